/**
 * hfi1's pinned-page cache (drivers/infiniband/hw/hfi1/mmu_rb.c, with the SDMA user of
 * drivers/infiniband/hw/hfi1/user_sdma.c): user SDMA requests pin their pages
 * (`hfi1_acquire_user_pages` → get_user_pages_fast) and cache them in an interval tree; the notifier
 * only keeps the cache coherent with the address space. `pin`: the device never reaches a freed
 * page; a race leaves a stale cache entry.
 *
 * The notifier: `spin_lock_irqsave(&handler->lock)`, every cached node overlapping the range that
 * `sdma_rb_invalidate` lets go (refcount 0: not in use by a queued request; always the case in the
 * model, whose device accesses are atomic) leaves the tree for `del_list`; after the unlock a work
 * item unpins them (`handle_remove` → `sdma_rb_remove` → `unpin_vector_pages`). The model runs
 * that work at once, in the notifier's thread, after the unlock. Never sleeps: it survived
 * c7ab0d2fdc84 (reference §1.b). ≤ v4.12 `->invalidate_page` covers `[addr, addr + PAGE_SIZE)`;
 * from v4.13 range_start only (no end); v4.19 declares MMU_INVALIDATE_DOES_NOT_BLOCK and ignores
 * `blockable`.
 */
import type { MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';

const RB = 'drivers/infiniband/hw/hfi1/mmu_rb.c';
const SDMA = 'drivers/infiniband/hw/hfi1/user_sdma.c';

export interface MmuRbState {
  /** `handler->lock` (spin_lock_irqsave). */
  readonly lock: number;
  /** The cached, pinned nodes (one per page in the model). */
  readonly cache: number;
}

function setup(api: SetupApi): MmuRbState {
  return Object.freeze({ lock: api.spinlock('mmu_rb_handler->lock'), cache: api.secondaryTable('hfi1 sdma pinned cache') });
}

/** `mmu_notifier_mem_invalidate(start, end)` and the del_work it queues. */
function memInvalidate(version: string) {
  const at = site(RB, 'mmu_notifier_mem_invalidate', version);
  const work = site(SDMA, 'handle_remove → sdma_rb_remove → unpin_vector_pages', version, 'the work item is run at once');
  return function* (k: KernelApi, s: MmuRbState, r: MmuNotifierRange): Gen<number> {
    const first = k.vpnOf(r.start);
    const end = k.vpnOf(r.end - 1) + 1;
    const removed: { pfn: number; generation: number }[] = [];
    yield* k.spinLock(s.lock, at);
    for (let vpn = first; vpn < end; vpn++) {
      const node = yield* k.spteRead(s.cache, vpn, at);
      if (!node) continue;
      // sdma_rb_invalidate: !atomic_read(&node->refcount) → __mmu_int_rb_remove; list_move to del_list
      yield* k.spteClearRange(s.cache, vpn, vpn + 1, at);
      removed.push(node);
    }
    yield* k.spinUnlock(s.lock, at);
    // if (added) queue_work(handler->wq, &handler->del_work)
    for (const page of removed) yield* k.putPage(page, work);
    return 0;
  };
}

/**
 * `pin_vector_pages()` for the page the device accesses: look the node up
 * (hfi1_mmu_rb_extract/remove_unless_exact, under handler->lock), pin with get_user_pages_fast,
 * then `hfi1_mmu_rb_insert()` under handler->lock.
 *
 * SDMA sends: the engine only reads the user's buffers. The pin is read-only
 * (`hfi1_acquire_user_pages(pq->mm, ..., npages, 0, pages)`: get_user_pages_fast with write = 0) and
 * `unpin_vector_pages` releases without dirtying (`hfi1_release_user_pages(mm, pages + start, npages,
 * false)`; the `dirty` case there does set_page_dirty_lock): drivers/infiniband/hw/hfi1/user_sdma.c,
 * user_pages.c v4.10.17, v4.12, v4.13.19, v4.19, v5.2.1. A device write is therefore no SDMA access:
 * the model refuses it (the writable TID pins of user_exp_rcv.c are not modelled).
 */
function pinVectorPages(version: string) {
  const at = site(SDMA, 'pin_vector_pages', version);
  const insert = site(RB, 'hfi1_mmu_rb_insert', version);
  return function* (k: KernelApi, s: MmuRbState, f: { address: number; write: boolean }): Gen<'mapped' | 'error'> {
    const vpn = k.vpnOf(f.address);
    if (f.write) {
      yield* k.note('SDMA only reads user memory (pinned read-only): no write access', at);
      return 'error';
    }
    const got = (yield* k.getUserPagesFast(f.address, false)) ?? (yield* k.getUserPagesUnlocked(f.address, false));
    if (!got) return 'error';
    yield* k.spinLock(s.lock, insert);
    const old = yield* k.spteRead(s.cache, vpn, insert);
    if (old && (!f.write || old.writable)) {
      // a node for this range is already cached: keep it, drop the new pin
      yield* k.spinUnlock(s.lock, insert);
      yield* k.putPage(got.page, at);
      return 'mapped';
    }
    // no node, or one that does not cover the access (hfi1_mmu_rb_remove_unless_exact): insert the new one
    yield* k.spteSet(s.cache, vpn, got.page, got.writable, insert);
    yield* k.spinUnlock(s.lock, insert);
    if (old) yield* k.putPage(old, at); // sdma_rb_remove → unpin_vector_pages
    return 'mapped';
  };
}

export const hfi1MmuRbLegacy: NotifierDefinition<MmuRbState> = {
  name: 'hfi1-mmu-rb',
  title: 'hfi1 mmu_rb pinned SDMA cache (v4.10/v4.12): spinlock + deferred unpin, invalidate_page and range_start',
  contract: 'pin',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: `${RB} mmu_notifier_page/mmu_notifier_range_start/mmu_notifier_mem_invalidate, ${SDMA} pin_vector_pages (v4.12)`,
  setup,
  ops: {
    *invalidatePage(k, s, address) {
      yield* memInvalidate('v4.12')(k, s, { start: address, end: address + k.PAGE_SIZE });
    },
    invalidateRangeStart: memInvalidate('v4.12'),
  },
  device: { table: (s) => s.cache, fault: pinVectorPages('v4.12') },
};

export const hfi1MmuRb: NotifierDefinition<MmuRbState> = {
  name: 'hfi1-mmu-rb',
  title: 'hfi1 mmu_rb pinned SDMA cache (v4.13+): range_start only, spinlock + deferred unpin (never sleeps, ignores blockable)',
  contract: 'pin',
  eras: ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'],
  source: `${RB} mmu_notifier_range_start/mmu_notifier_mem_invalidate (v4.13.9, v4.19.95: MMU_INVALIDATE_DOES_NOT_BLOCK; v5.0.1, v5.2.1: struct mmu_notifier_range, same body), ${SDMA} pin_vector_pages`,
  setup,
  ops: { invalidateRangeStart: memInvalidate('v4.13') },
  device: { table: (s) => s.cache, fault: pinVectorPages('v4.13') },
};
