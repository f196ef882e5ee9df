/**
 * Intel MIC SCIF (drivers/misc/mic/scif/scif_dma.c): RMA transfers from user memory register
 * "temporary cached windows" (`scif_register_temp` → `scif_pin_pages`: get_user_pages, pinned) and
 * keep them on `mmn->tc_reg_list` for reuse. The notifier destroys the cached windows overlapping
 * the range under `ep->rma_info.tc_lock` (a spinlock) and queues them for cleanup
 * (`__scif_rma_destroy_tcw_helper` → `scif_queue_for_cleanup`: a work item unpins them later; the
 * model unpins at once, after the unlock). `pin`: never a freed page; range_start only (the end
 * callback is empty), no retry scheme: a window registered between range_start and the PTE clear
 * stays cached with the old pages (stale, reference §2.9). Spinlocks only: it survived c7ab0d2fdc84.
 *
 * ≤ v4.12 `->invalidate_page(address)` destroys `[address, address + PAGE_SIZE)`; v4.19 ignores
 * `blockable`. The RMA path also holds `ep->rma_info.rma_lock` (a mutex the notifier never takes;
 * not modelled).
 */
import type { MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen, PageRef } from '../runtime/primitives';
import { site } from '../runtime/site';
import { MAX_PAGES } from '../scenario/scenario';

const DMA = 'drivers/misc/mic/scif/scif_dma.c';

export interface ScifState {
  /** `ep->rma_info.tc_lock`. */
  readonly tcLock: number;
  readonly windows: number;
}

function setup(api: SetupApi): ScifState {
  return Object.freeze({ tcLock: api.spinlock('ep->rma_info.tc_lock'), windows: api.secondaryTable('scif cached windows') });
}

/** `scif_rma_destroy_tcw(mmn, start, len)`, then the cleanup work's unpin. */
function destroyTcw(version: string) {
  const at = site(DMA, 'scif_rma_destroy_tcw → __scif_rma_destroy_tcw_helper', version);
  const unpin = site('drivers/misc/mic/scif/scif_rma.c', 'scif_misc_handler → scif_destroy_window → scif_unpin_pages', version, 'the work item is run at once');
  // scif_destroy_pinned_pages: `if (writeable) SetPageDirty(pin->pages[j]); put_page(pin->pages[j]);`
  // with writeable = pin->prot & SCIF_PROT_WRITE (scif_rma.c v4.13.19; v4.10.17, v4.19, v5.2.1 alike)
  const dirty = site('drivers/misc/mic/scif/scif_rma.c', 'scif_destroy_pinned_pages: SetPageDirty (SCIF_PROT_WRITE)', version, 'the work item is run at once');
  return function* (k: KernelApi, s: ScifState, r: MmuNotifierRange): Gen<number> {
    const gone: (PageRef & { writable: boolean })[] = [];
    yield* k.spinLock(s.tcLock, at);
    for (let vpn = k.vpnOf(r.start); vpn <= k.vpnOf(r.end - 1); vpn++) {
      const w = yield* k.spteRead(s.windows, vpn, at);
      if (!w) continue;
      yield* k.spteClearRange(s.windows, vpn, vpn + 1, at);
      gone.push(w);
    }
    yield* k.spinUnlock(s.tcLock, at);
    for (const page of gone) {
      if (page.writable) yield* k.setPageDirty(page, dirty);
      yield* k.putPage(page, unpin);
    }
    return 0;
  };
}

/**
 * `scif_mmu_notifier_release()` (scif_dma.c v4.10.17, v4.13.19, v4.19.95, v5.2.1):
 * `scif_rma_destroy_tcw(mmn, 0, ULONG_MAX)` then schedule_work(&scif_info.misc_work), the cleanup
 * that unpins (run at once, as destroyTcw does); the windows cover the modelled VMA.
 */
function release(version: string) {
  const destroy = destroyTcw(version);
  return function* (k: KernelApi, s: ScifState): Gen {
    yield* destroy(k, s, { start: k.addressOf(0), end: k.addressOf(MAX_PAGES) });
  };
}

/** `scif_rma_copy()` with a cached window: `scif_query_tcw` under tc_lock; if none, register (pin) and insert it. */
function rmaCopy(version: string) {
  const at = site(DMA, 'scif_rma_copy: scif_query_tcw / scif_insert_tcw under tc_lock', version);
  const pin = site(DMA, 'scif_register_temp → scif_pin_pages (get_user_pages)', version);
  return function* (k: KernelApi, s: ScifState, f: { address: number; write: boolean }): Gen<'mapped' | 'error'> {
    const vpn = k.vpnOf(f.address);
    yield* k.spinLock(s.tcLock, at);
    const cached = yield* k.spteRead(s.windows, vpn, at);
    yield* k.spinUnlock(s.tcLock, at);
    // scif_query_tcw matches a window of the right protection (req.prot) only
    if (cached && (!f.write || cached.writable)) return 'mapped';
    const got = yield* k.getUserPagesUnlocked(f.address, f.write);
    if (!got) return 'error';
    yield* k.spinLock(s.tcLock, at);
    const old = yield* k.spteRead(s.windows, vpn, at);
    if (old && (!f.write || old.writable)) {
      yield* k.spinUnlock(s.tcLock, at);
      yield* k.putPage(got.page, pin); // another window covers it: this one is not cached
      return 'mapped';
    }
    yield* k.spteSet(s.windows, vpn, got.page, got.writable, at); // scif_insert_tcw
    yield* k.spinUnlock(s.tcLock, at);
    if (old) yield* k.putPage(old, pin); // the read-only window it supersedes is destroyed
    return 'mapped';
  };
}

export const scifLegacy: NotifierDefinition<ScifState> = {
  name: 'scif',
  title: 'Intel MIC SCIF (v4.10/v4.12): cached pinned windows destroyed under tc_lock (spinlock) by invalidate_page and range_start',
  contract: 'pin',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: `${DMA} scif_mmu_notifier_invalidate_page/range_start, scif_rma_destroy_tcw, scif_rma_copy (v4.12)`,
  setup,
  ops: {
    *invalidatePage(k, s, address) {
      yield* destroyTcw('v4.12')(k, s, { start: address, end: address + k.PAGE_SIZE });
    },
    invalidateRangeStart: destroyTcw('v4.12'),
    *invalidateRangeEnd() {
      // "Nothing to do here, everything needed was done in invalidate_range_start."
    },
    release: release('v4.12'),
  },
  device: { table: (s) => s.windows, fault: rmaCopy('v4.12') },
};

export const scif: NotifierDefinition<ScifState> = {
  name: 'scif',
  title: 'Intel MIC SCIF (v4.13+): cached pinned windows destroyed under tc_lock in range_start (end empty, blockable ignored)',
  contract: 'pin',
  eras: ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'],
  source: `${DMA} scif_mmu_notifier_invalidate_range_start/_end, scif_rma_destroy_tcw, scif_rma_copy (v4.13.9, v4.19.95, v5.0.1, v5.2.1)`,
  setup,
  ops: {
    invalidateRangeStart: destroyTcw('v4.13'),
    *invalidateRangeEnd() {
      // "Nothing to do here, everything needed was done in invalidate_range_start."
    },
    release: release('v4.13'),
  },
  device: { table: (s) => s.windows, fault: rmaCopy('v4.13') },
};
