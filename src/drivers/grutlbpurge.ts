/**
 * SGI GRU (drivers/misc/sgi-gru/grutlbpurge.c, with the TLB dropin of grufault.c): the GRU's TLB is
 * filled by the kernel from the CPU page table (`gru_try_dropin` → `gru_vtop`: `atomic_pte_lookup`,
 * a lockless walk, else `non_atomic_pte_lookup`: get_user_pages then put_page) and holds no page
 * reference (`mirror`).
 *
 * The notifier counts, it has no sequence number: range_start does
 * `atomic_inc(&gms->ms_range_active)` and flushes the GRU TLB for the range (`gru_flush_tlb_range`:
 * `ms_asid_lock`, a TGH invalidate; spins, never sleeps); range_end does `atomic_dec_and_test()` and
 * wakes `ms_wait_queue`; a dropin fails while `ms_range_active` is non-zero. A whole start/end pair
 * between that check and the dropin would go unnoticed (reference §2.7), but "the GRU contains magic
 * hardware that eliminates races between TLB invalidates and TLB dropins. If an invalidate occurs in
 * the window between reading the TFH and the subsequent TLB dropin, the dropin is ignored"
 * (grufault.c gru_try_dropin). The model gives that hardware a counter of TGH invalidates, sampled
 * when the miss is raised (the TFH) and compared atomically with the dropin (`gru tgh` lock).
 *
 * `sgi-gru-count-only` is the same driver on hardware without that filter: the count-only protocol
 * on its own, which the class of reference §3 B7 breaks (a bracket that opens and closes between the
 * check and the dropin).
 *
 * The user-context fault runs under mmap_sem (read) and `gts->ts_ctxlock`; the notifier API gives
 * drivers no mmap_sem, so munmap is not excluded from a dropin here (the hardware filter covers it).
 */
import type { MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';

const PURGE = 'drivers/misc/sgi-gru/grutlbpurge.c';
const FAULT = 'drivers/misc/sgi-gru/grufault.c';

export interface GruState {
  readonly rangeActive: number;
  readonly asidLock: number;
  /** The TGH: the hardware serialising TLB invalidates and dropins. */
  readonly tgh: number;
  /** TGH invalidates issued so far (the model's stand-in for the TFH's view of them). */
  readonly tghInvalidates: number;
  readonly tlb: number;
  /** `gms->ms_released`, set by ->release. */
  readonly released: number;
}

function setup(api: SetupApi): GruState {
  return Object.freeze({
    rangeActive: api.counter('gms->ms_range_active'),
    asidLock: api.spinlock('gms->ms_asid_lock'),
    tgh: api.spinlock('gru tgh (hardware: invalidate vs dropin)'),
    tghInvalidates: api.counter('gru tgh invalidates (hardware)'),
    tlb: api.secondaryTable('gru tlb'),
    released: api.counter('gms->ms_released'),
  });
}

/** `gru_flush_tlb_range(gms, start, len)`: under ms_asid_lock, a TGH invalidate of the range. */
function* flushTlbRange(k: KernelApi, s: GruState, start: number, end: number, version: string): Gen {
  const at = site(PURGE, 'gru_flush_tlb_range → tgh_invalidate', version);
  yield* k.spinLock(s.asidLock, at);
  yield* k.spinLock(s.tgh, at); // get_lock_tgh_handle
  yield* k.spteClearRange(s.tlb, k.vpnOf(start), k.vpnOf(end - 1) + 1, at);
  yield* k.add(s.tghInvalidates, 1, at);
  yield* k.spinUnlock(s.tgh, at); // get_unlock_tgh_handle
  yield* k.spinUnlock(s.asidLock, at);
}

function rangeStart(version: string) {
  return function* (k: KernelApi, s: GruState, r: MmuNotifierRange): Gen<number> {
    yield* k.add(s.rangeActive, 1, site(PURGE, 'gru_invalidate_range_start: atomic_inc(&gms->ms_range_active)', version));
    yield* flushTlbRange(k, s, r.start, r.end, version);
    return 0; // v4.19: MMU_INVALIDATE_DOES_NOT_BLOCK, blockable ignored
  };
}

function rangeEnd(version: string) {
  return function* (k: KernelApi, s: GruState): Gen {
    // (void)atomic_dec_and_test(&gms->ms_range_active); wake_up_all(&gms->ms_wait_queue)
    yield* k.add(s.rangeActive, -1, site(PURGE, 'gru_invalidate_range_end', version));
  };
}

/**
 * `gru_release()` (grutlbpurge.c v4.10.17, v4.13.19; the same in v5.0.1): `gms->ms_released = 1`,
 * nothing else: the GRU TLB is not flushed (the contexts are unloaded later, from gru_vma_close,
 * and gru_drop_mmu_notifier then skips mmu_notifier_unregister). The GRU relies on no instruction
 * of the exited process running any more.
 */
function release(version: string) {
  return function* (k: KernelApi, s: GruState): Gen {
    yield* k.write(s.released, 1, site(PURGE, 'gru_release: gms->ms_released = 1', version));
  };
}

/** `gru_try_dropin()` in user context (cbk != NULL), for the miss at `address`. */
function tryDropin(version: string, hwFilter: boolean) {
  const at = site(FAULT, 'gru_try_dropin', version);
  const vtop = site(FAULT, 'gru_vtop → atomic_pte_lookup', version);
  const slow = site(FAULT, 'gru_vtop → non_atomic_pte_lookup: get_user_pages, put_page', version);
  const dropin = site(FAULT, 'gru_try_dropin → tfh_write_restart', version, hwFilter ? 'ignored by the hardware if a TGH invalidate came after the TFH was read' : 'hardware without the dropin filter');
  return function* (k: KernelApi, s: GruState, f: { address: number; write: boolean }): Gen<'mapped' | 'retry' | 'error'> {
    // the miss: the TFH records it (hardware)
    const tfh = yield* k.read(s.tghInvalidates, at);
    // rmb(); if (atomic_read(&gts->ts_gms->ms_range_active)) goto failactive;
    if ((yield* k.read(s.rangeActive, at)) !== 0) return 'retry';
    const pte = yield* k.walkCpuPageTable(f.address, vtop);
    let page: { pfn: number; generation: number } | null = null;
    if (pte && !pte.swap && (!f.write || (pte.writable && pte.dirty))) {
      page = { pfn: pte.pfn, generation: pte.generation };
    } else {
      const got = yield* k.getUserPagesUnlocked(f.address, f.write);
      if (!got) return 'error'; // failinval
      yield* k.putPage(got.page, slow);
      page = got.page;
    }
    yield* k.spinLock(s.tgh, dropin);
    const ignored = hwFilter && (yield* k.read(s.tghInvalidates, dropin)) !== tfh;
    if (!ignored) yield* k.spteSet(s.tlb, k.vpnOf(f.address), page, f.write, dropin);
    yield* k.spinUnlock(s.tgh, dropin);
    return ignored ? 'retry' : 'mapped';
  };
}

function definition(hwFilter: boolean, legacy: boolean): NotifierDefinition<GruState> {
  const version = legacy ? 'v4.12' : 'v4.13';
  const start = rangeStart(version);
  return {
    name: hwFilter ? 'sgi-gru' : 'sgi-gru-count-only',
    title: hwFilter
      ? `SGI GRU (${legacy ? 'v4.10/v4.12' : 'v4.13+'}): ms_range_active count + TLB flush in range_start; the TFH hardware ignores a dropin that raced an invalidate`
      : `SGI GRU's count-only protocol without the hardware dropin filter (${version}; reference §3 B7 class: a bracket between the count check and the dropin is missed)`,
    contract: 'mirror',
    eras: legacy ? ['v4.10', 'v4.12', 'aac2fea9'] : hwFilter ? ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'] : ['v4.13', 'v4.15', 'v4.19'],
    source: `${PURGE} gru_invalidate_${legacy ? 'page, gru_invalidate_' : ''}range_start/_end, gru_flush_tlb_range; ${FAULT} gru_try_dropin (${legacy ? 'v4.12' : 'v4.13.9, v4.19.95; v5.0.1, v5.2.1 take struct mmu_notifier_range'})${hwFilter ? '' : '; without the TFH filter: broken on purpose'}`,
    setup,
    ops: legacy
      ? {
          *invalidatePage(k, s, address) {
            yield* flushTlbRange(k, s, address, address + k.PAGE_SIZE, version);
          },
          invalidateRangeStart: start,
          invalidateRangeEnd: rangeEnd(version),
          release: release(version),
        }
      : { invalidateRangeStart: start, invalidateRangeEnd: rangeEnd(version), release: release(version) },
    // the dropin serves GRU instructions of the process's threads (user context): they hold the mm
    device: { table: (s) => s.tlb, fault: tryDropin(version, hwFilter), holdsMm: true },
  };
}

export const sgiGruLegacy = definition(true, true);
export const sgiGru = definition(true, false);
export const sgiGruCountOnly = definition(false, false);
