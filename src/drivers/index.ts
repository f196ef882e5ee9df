import type { NotifierDefinition } from '../notifier/definition';
import { UsageError } from '../runtime/errors';
import { invalidatePageMutex } from './invalidate-page-mutex';
import { invalidateRangeMutex } from './invalidate-range-mutex';
import { kvm, kvmLegacy, kvmNoRetry, kvmNoRetryLegacy } from './kvm';
import { rangeStartMutex, rangeStartTrylock } from './range-start-mutex';
import { amdgpuUserptr, amdgpuUserptr419, amdgpuUserptrLegacy, amdgpuUserptrTrylock } from './amdgpu_mn';
import { amdIommuV2, amdIommuV2Legacy } from './amd_iommu_v2';
import { xenGntdev, xenGntdev419, xenGntdevLegacy } from './gntdev';
import { sgiGru, sgiGruCountOnly, sgiGruLegacy } from './grutlbpurge';
import { intelSvm, intelSvmLegacy } from './intel-svm';
import { hfi1MmuRb, hfi1MmuRbLegacy } from './mmu_rb';
import { powernvNpu, powernvNpu419, powernvNpu50, powernvNpuLegacy } from './npu-dma';
import { pagePin } from './page-pin';
import { scif, scifLegacy } from './scif_dma';
import { ibUmemOdp, ibUmemOdp419, ibUmemOdp50, ibUmemOdpLegacy, ibUmemOdpRwsemHeld } from './umem_odp';
import { observers } from './observer';
import { hmmMirror, hmmMirrorNoRetry, hmmMirrorSetSeqUnlocked } from './hmm-mirror';
import { ibUmemOdp55, ibUmemOdp66 } from './umem_odp_interval';
import { amdgpuUserptr55, amdgpuUserptr66 } from './amdgpu_hmm';
import { xenGntdev55, xenGntdev66 } from './gntdev_interval';
import { nouveauSvm55, nouveauSvm66 } from './nouveau_svm';

/**
 * The built-in driver catalogue. One name may have several definitions, one per group of eras
 * (KVM ≤ v4.12 implements ->invalidate_page, KVM v4.13 does not); their `eras` do not overlap.
 */
export const DRIVERS: readonly NotifierDefinition<any>[] = [kvmLegacy, kvm, kvmNoRetryLegacy, kvmNoRetry, invalidatePageMutex, invalidateRangeMutex, rangeStartMutex, rangeStartTrylock, ...observers,
  hmmMirror, hmmMirrorNoRetry, hmmMirrorSetSeqUnlocked,
  // the kernel's own notifier users, per era, and the broken variants of the bug catalogue (issue 4)
  ibUmemOdpLegacy, ibUmemOdp, ibUmemOdp419, ibUmemOdp50, ibUmemOdp55, ibUmemOdp66, ibUmemOdpRwsemHeld,
  amdgpuUserptrLegacy, amdgpuUserptr, amdgpuUserptr419, amdgpuUserptr55, amdgpuUserptr66, amdgpuUserptrTrylock,
  hfi1MmuRbLegacy, hfi1MmuRb,
  amdIommuV2Legacy, amdIommuV2,
  intelSvmLegacy, intelSvm,
  sgiGruLegacy, sgiGru, sgiGruCountOnly,
  xenGntdevLegacy, xenGntdev, xenGntdev419, xenGntdev55, xenGntdev66,
  scifLegacy, scif,
  powernvNpuLegacy, powernvNpu, powernvNpu419, powernvNpu50,
  pagePin,
  nouveauSvm55, nouveauSvm66,
];

/** Driver names, each once, in catalogue order. */
export function driverNames(): string[] {
  return [...new Set(DRIVERS.map((d) => d.name))];
}

/** The eras a driver name exists in. */
export function erasOf(name: string): string[] {
  return DRIVERS.filter((d) => d.name === name).flatMap((d) => d.eras);
}

/** The definition of driver `name` for kernel era `era` (or its newest definition when no era is given). */
export function driverByName(name: string, era?: string): NotifierDefinition<any> {
  const all = DRIVERS.filter((x) => x.name === name);
  if (all.length === 0) throw new UsageError(`unknown driver '${name}' (known: ${driverNames().join(', ')})`);
  if (era === undefined) return all[all.length - 1];
  const d = all.find((x) => x.eras.includes(era));
  if (!d) throw new UsageError(`driver '${name}' is not modelled for kernel ${era} (it exists for ${erasOf(name).join(', ')})`);
  return d;
}
