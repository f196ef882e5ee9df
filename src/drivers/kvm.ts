/**
 * KVM's MMU notifier (virt/kvm/kvm_main.c v4.13) and its x86 TDP fault path
 * (arch/x86/kvm/mmu.c tdp_page_fault v4.13), and `kvm-no-retry`: the same without the
 * mmu_notifier_retry() check, the range_start-only pattern the kill-invalidate_page cover letter
 * warns about (reference §3 B7).
 *
 * KVM keeps mmu_notifier_seq and mmu_notifier_count under kvm->mmu_lock: range_start bumps the
 * count and zaps the sptes in the range; range_end bumps the sequence and drops the count; a vCPU
 * fault samples the sequence before get_user_pages and, under mmu_lock, retries if an invalidation
 * is in progress or completed meanwhile. The spte holds no page reference: safety rests on this
 * protocol alone.
 */
import type { DeviceFault, DeviceFaultResult, MmuNotifierRange, NewPte, NotifierDefinition } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';

export interface KvmState {
  readonly mmuLock: number;
  readonly seq: number;
  readonly count: number;
  readonly spt: number;
  /** The v6.8 names and form (mmu_invalidate_*; change_pte returns early unless an invalidation is in progress). */
  readonly seqRenamed: boolean;
}

const START = site('virt/kvm/kvm_main.c', 'kvm_mmu_notifier_invalidate_range_start', 'v4.13');
const PAGE = site('virt/kvm/kvm_main.c', 'kvm_mmu_notifier_invalidate_page', 'v4.12');
const END = site('virt/kvm/kvm_main.c', 'kvm_mmu_notifier_invalidate_range_end', 'v4.13');
const FAULT = site('arch/x86/kvm/mmu.c', 'tdp_page_fault', 'v4.13');
const HVA_TO_PFN = site('virt/kvm/kvm_main.c', 'hva_to_pfn', 'v4.13');
const RETRY = site('include/linux/kvm_host.h', 'mmu_notifier_retry', 'v4.13');
const MAP = site('arch/x86/kvm/mmu.c', '__direct_map → mmu_set_spte', 'v4.13');
const CHANGE_PTE = site('virt/kvm/kvm_main.c', 'kvm_mmu_notifier_change_pte', 'v4.13');
const CHANGE_PTE_68 = site('virt/kvm/kvm_main.c', 'kvm_mmu_notifier_change_pte', 'v6.8');

/**
 * The state: `kvm->mmu_lock`, the sequence and in-progress counts (renamed mmu_invalidate_seq and
 * mmu_invalidate_in_progress by v6.8 [V]; v6.0 for the rename is the reference's [U]), and the sptes.
 */
function setup(api: Parameters<NotifierDefinition<KvmState>['setup']>[0]): KvmState {
  const renamed = api.era === 'v6.6';
  return Object.freeze({
    mmuLock: api.spinlock('kvm->mmu_lock'),
    seq: api.counter(renamed ? 'kvm->mmu_invalidate_seq' : 'kvm->mmu_notifier_seq'),
    count: api.counter(renamed ? 'kvm->mmu_invalidate_in_progress' : 'kvm->mmu_notifier_count'),
    spt: api.secondaryTable('kvm spte'),
    seqRenamed: renamed,
  });
}

/**
 * kvm_mmu_notifier_invalidate_range_start(): never sleeps (a spinlock), so it ignores `blockable`
 * and returns 0 in v4.19 too (kvm_main.c v4.19: the arch hook x86 implements returns 0).
 */
function* invalidateRangeStart(k: KernelApi, s: KvmState, r: MmuNotifierRange): Gen<number> {
  // idx = srcu_read_lock(&kvm->srcu) (not a step: it never blocks)
  yield* k.spinLock(s.mmuLock, START);
  // "The count increase must become visible at unlock time as no spte can be established without
  // taking the mmu_lock and count is also read inside the mmu_lock critical section."
  yield* k.add(s.count, 1, START);
  // need_tlb_flush = kvm_unmap_hva_range(kvm, start, end); kvm_flush_remote_tlbs() before the pages can be freed
  // kvm_zap_rmapp → mmu_spte_clear_track_bits: kvm_set_pfn_dirty() for a writable (dirty) spte
  yield* k.spteClearRange(s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, site('arch/x86/kvm/mmu.c', 'kvm_unmap_hva_range → mmu_spte_clear_track_bits', 'v4.13'), true);
  yield* k.spinUnlock(s.mmuLock, START);
  return 0;
}

/**
 * `kvm_mmu_notifier_invalidate_page()` (≤ v4.12, removed by the kill-invalidate_page series): "When
 * ->invalidate_page runs, the linux pte has been zapped already but the page is still allocated
 * until ->invalidate_page returns. So if we increase the sequence here the kvm page fault will
 * notice if the spte can't be established because the page is going to be freed." Does not sleep.
 */
function* invalidatePage(k: KernelApi, s: KvmState, address: number): Gen {
  yield* k.spinLock(s.mmuLock, PAGE);
  yield* k.add(s.seq, 1, PAGE);
  // need_tlb_flush = kvm_unmap_hva(kvm, address) | kvm->tlbs_dirty; kvm_flush_remote_tlbs()
  const vpn = k.vpnOf(address);
  yield* k.spteClearRange(s.spt, vpn, vpn + 1, site('arch/x86/kvm/mmu.c', 'kvm_unmap_hva → mmu_spte_clear_track_bits', 'v4.12'), true);
  yield* k.spinUnlock(s.mmuLock, PAGE);
}

/**
 * `kvm_mmu_notifier_change_pte(mn, mm, address, pte)` (virt/kvm/kvm_main.c v4.10.17 … v5.7.14 [V]):
 * srcu_read_lock; spin_lock(mmu_lock); `kvm->mmu_notifier_seq++`; kvm_set_spte_hva → kvm_set_pte_rmapp
 * (arch/x86/kvm/mmu.c v4.13.19, mmu/mmu.c v5.7.14): for each spte of the hva, a writable new pte
 * drops it (drop_spte / pte_list_remove), a read-only one re-points it at the new pfn without write
 * permission (mmu_spte_clear_track_bits, which dirties the old page if the spte was writable, then
 * mmu_spte_set); remote TLB flush; unlock. Atomic (a spinlock), as its PTL-holding caller needs.
 * v6.8 [V] (modelled for v6.6): `WARN_ON_ONCE(!mn_active_invalidate_count)`; "If
 * mmu_invalidate_in_progress is zero, then no in-progress invalidations, including this one, found a
 * relevant memslot at start()": return; else kvm_handle_hva_range takes mmu_lock and
 * kvm_set_pte_rmap does the same per spte, with no sequence bump. Since every set_pte_at_notify is
 * inside a start/end bracket whose range_start already zapped the spte, it normally finds nothing.
 */
function* changePte(k: KernelApi, s: KvmState, address: number, pte: NewPte): Gen {
  const modern = s.seqRenamed;
  const at = modern ? CHANGE_PTE_68 : CHANGE_PTE;
  if (modern && (yield* k.read(s.count, at)) === 0) {
    yield* k.note('mmu_invalidate_in_progress == 0: return', at);
    return;
  }
  yield* k.spinLock(s.mmuLock, at);
  if (!modern) yield* k.add(s.seq, 1, at);
  const vpn = k.vpnOf(address);
  const rmapp = site('arch/x86/kvm/mmu.c', 'kvm_set_spte_hva → kvm_set_pte_rmapp', modern ? 'v6.8' : 'v4.13');
  const cur = yield* k.spteRead(s.spt, vpn, rmapp);
  if (cur) {
    // for_each_rmap_spte: pte_write(*ptep) ? drop_spte : re-point read-only (both via mmu_spte_clear_track_bits)
    yield* k.spteClearRange(s.spt, vpn, vpn + 1, rmapp, true);
    if (!pte.writable) yield* k.spteSet(s.spt, vpn, { pfn: pte.pfn, generation: pte.generation }, false, rmapp);
  }
  yield* k.spinUnlock(s.mmuLock, at);
}

/**
 * `kvm_mmu_notifier_release()` (virt/kvm/kvm_main.c v4.13.19; the same in v4.10.17 and v5.7.14,
 * v6.8 calls it kvm_flush_shadow_all → kvm_arch_flush_shadow_all):
 * srcu_read_lock(&kvm->srcu); kvm_arch_flush_shadow_all(kvm) → kvm_mmu_invalidate_zap_all_pages
 * (arch/x86/kvm/mmu.c v4.13): under mmu_lock every shadow page is zapped (drop_spte →
 * mmu_spte_clear_track_bits, which dirties the page of a writable spte); srcu_read_unlock. The
 * sequence count is not touched: no vCPU can fault any more (it is a thread of the exiting mm).
 */
function* release(k: KernelApi, s: KvmState): Gen {
  const at = site('arch/x86/kvm/mmu.c', 'kvm_mmu_notifier_release → kvm_arch_flush_shadow_all → kvm_mmu_invalidate_zap_all_pages', 'v4.13');
  yield* k.spinLock(s.mmuLock, at);
  yield* k.spteClearRange(s.spt, 0, Number.MAX_SAFE_INTEGER, at, true);
  yield* k.spinUnlock(s.mmuLock, at);
}

/**
 * `kvm_mmu_notifier_clear_flush_young(mn, mm, start, end)` (virt/kvm/kvm_main.c v4.10.17, v4.13.19,
 * v5.7.14 [V]): srcu_read_lock(&kvm->srcu); spin_lock(&kvm->mmu_lock); young = kvm_age_hva(kvm,
 * start, end) — kvm_handle_hva_range → kvm_age_rmapp: for each spte of the range `young |=
 * mmu_spte_age(sptep)`, which with A/D bits test-and-clears the accessed bit (arch/x86/kvm/mmu.c
 * v4.13.19); without A/D bits it marks the spte for access tracking instead, not modelled [U];
 * `if (young) kvm_flush_remote_tlbs(kvm)`; unlock; return young. v6.8 [V] (modelled for v6.6):
 * kvm_handle_hva_range(mn, start, end, …, kvm_age_gfn) takes mmu_lock (KVM_MMU_LOCK) and flushes
 * on a young result (flush_on_ret) the same way. A spinlock: no sleep, as its PTL-holding caller needs.
 */
function* clearFlushYoung(k: KernelApi, s: KvmState, r: MmuNotifierRange): Gen<boolean> {
  const modern = s.seqRenamed;
  const at = site('virt/kvm/kvm_main.c', modern ? 'kvm_mmu_notifier_clear_flush_young → kvm_handle_hva_range' : 'kvm_mmu_notifier_clear_flush_young', modern ? 'v6.8' : 'v4.13');
  yield* k.spinLock(s.mmuLock, at);
  const young = yield* k.spteClearYoung(s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1, modern ? site('arch/x86/kvm/mmu/mmu.c', 'kvm_age_gfn → kvm_age_rmap → mmu_spte_age', 'v6.8', 'with the TDP MMU kvm_tdp_mmu_age_gfn_range instead, the same test-and-clear of the A bit [U]') : site('arch/x86/kvm/mmu.c', 'kvm_age_hva → kvm_age_rmapp → mmu_spte_age', 'v4.13'));
  if (young > 0) yield* k.note('young: kvm_flush_remote_tlbs(kvm)', at);
  yield* k.spinUnlock(s.mmuLock, at);
  return young > 0;
}

function* invalidateRangeEnd(k: KernelApi, s: KvmState): Gen {
  yield* k.spinLock(s.mmuLock, END);
  // "This sequence increase will notify the kvm page fault that the page that is going to be mapped
  // in the spte could have been freed." smp_wmb() orders it before the count decrease.
  yield* k.add(s.seq, 1, END);
  yield* k.add(s.count, -1, END);
  yield* k.spinUnlock(s.mmuLock, END);
}

/**
 * hva_to_pfn(): hva_to_pfn_fast (only for write-capable lookups: __get_user_pages_fast(addr, 1, 1))
 * then hva_to_pfn_slow (get_user_pages_unlocked, may sleep).
 */
function* hvaToPfn(k: KernelApi, f: DeviceFault) {
  const fast = yield* k.getUserPagesFast(f.address, true);
  if (fast) return { page: fast.page, writable: true };
  yield* k.note('hva_to_pfn_fast failed: hva_to_pfn_slow', HVA_TO_PFN);
  // hva_to_pfn_slow(): *writable = write_fault; flags = FOLL_HWPOISON | FOLL_HONOR_NUMA_FAULT (v6.8: "We always
  // want to honor NUMA hinting faults in that case, because GUP usage corresponds to memory accesses from the VCPU")
  const slow = yield* k.getUserPagesUnlocked(f.address, f.write, true);
  return slow ? { page: slow.page, writable: f.write } : null;
}

function tdpPageFault(checkRetry: boolean) {
  return function* (k: KernelApi, s: KvmState, f: DeviceFault): Gen<DeviceFaultResult> {
    // mmu_seq = vcpu->kvm->mmu_notifier_seq; smp_rmb();
    const mmuSeq = yield* k.read(s.seq, FAULT);
    // try_async_pf() → __gfn_to_pfn_memslot() → hva_to_pfn()
    const got = yield* hvaToPfn(k, f);
    if (!got) return 'error';
    yield* k.spinLock(s.mmuLock, FAULT);
    if (checkRetry) {
      // if (mmu_notifier_retry(vcpu->kvm, mmu_seq)) goto out_unlock;
      const count = yield* k.read(s.count, RETRY);
      const seq = count !== 0 ? mmuSeq : yield* k.read(s.seq, RETRY);
      if (count !== 0 || seq !== mmuSeq) {
        yield* k.note(`mmu_notifier_retry() = 1 (count ${count}, seq ${seq} vs ${mmuSeq}): goto out_unlock`, RETRY);
        yield* k.spinUnlock(s.mmuLock, FAULT);
        yield* k.putPage(got.page, site('virt/kvm/kvm_main.c', 'kvm_release_pfn_clean', 'v4.13'));
        return 'retry';
      }
    }
    yield* k.spteSet(s.spt, k.vpnOf(f.address), got.page, got.writable, MAP);
    // mmu_set_spte() ends with kvm_release_pfn_clean(pfn): the spte keeps no reference
    yield* k.putPage(got.page, site('arch/x86/kvm/mmu.c', 'mmu_set_spte → kvm_release_pfn_clean', 'v4.13'));
    yield* k.spinUnlock(s.mmuLock, FAULT);
    return 'mapped';
  };
}

/** Eras whose KVM still has ->invalidate_page (v4.10 … v4.13-rc; aac2fea9 was a v4.13-rc commit). */
const LEGACY_ERAS = ['v4.10', 'v4.12', 'aac2fea9'];
/**
 * Eras of the start/end KVM: the same protocol, read in v4.13, v4.19 and v5.7.14 (kvm_main.c,
 * arch/x86/kvm/mmu/mmu.c direct_page_fault). v6.6 is modelled with the same protocol under the v6.8
 * names; v6.8 narrows the retry to the invalidated gfn range (mmu_invalidate_retry_gfn) and uses an
 * rwlock for mmu_lock, which changes no verdict with one memslot and is not modelled.
 */
const MODERN_ERAS = ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2', 'v5.5', 'v6.6'];

function kvmDefinition(retry: boolean, legacy: boolean): NotifierDefinition<KvmState> {
  const version = legacy ? 'v4.10/v4.12' : 'v4.13';
  return {
    name: retry ? 'kvm' : 'kvm-no-retry',
    title: retry
      ? `KVM x86 TDP (${version}): mmu_notifier_seq + mmu_notifier_count under kvm->mmu_lock, fault retries`
      : `KVM (${version}) without mmu_notifier_retry(): a fault racing an invalidation maps the old page (broken on purpose)`,
    contract: 'mirror',
    eras: legacy ? LEGACY_ERAS : MODERN_ERAS,
    source: retry
      ? `virt/kvm/kvm_main.c kvm_mmu_notifier_invalidate_${legacy ? 'page, ' : ''}range_start/_end, arch/x86/kvm/mmu.c tdp_page_fault (${version})`
      : 'kvm with the mmu_notifier_retry() check of tdp_page_fault removed: the range_start-only pattern of reference §3 B7',
    setup,
    ops: legacy ? { invalidatePage, invalidateRangeStart, invalidateRangeEnd, changePte, clearFlushYoung, release } : { invalidateRangeStart, invalidateRangeEnd, changePte, clearFlushYoung, release },
    // the vCPU thread is a thread of the VM's process (kvm_vcpu_ioctl: kvm->mm == current->mm)
    device: { table: (s) => s.spt, fault: tdpPageFault(retry), holdsMm: true },
  };
}

export const kvm = kvmDefinition(true, false);
export const kvmNoRetry = kvmDefinition(false, false);
export const kvmLegacy = kvmDefinition(true, true);
export const kvmNoRetryLegacy = kvmDefinition(false, true);
