/**
 * A generic page-pinning driver: the pattern include/linux/mmu_notifier.h (v4.13) describes for a
 * device that must keep using its pages until the invalidation is over — "If the page must not be
 * freed because of pending I/O or other circumstances then the invalidate_range_start() callback
 * (or the initial mapping by the driver) must make sure that the refcount is kept elevated", and
 * "If the refcount is only droppped on invalidate_range_end() then the driver itself will drop the
 * last refcount but it must take care to flush any secondary tlb before doing the final free".
 *
 * Mapped pages hold no reference; range_start (which "is called when all pages in the range are
 * still mapped and have at least a refcount of one") takes one on every page the device maps in the
 * range and raises an in-progress count, so the device may go on using them until range_end, which
 * zaps the sptes, then drops the references, bumps the sequence and lowers the count. The fault
 * samples the sequence before get_user_pages and maps nothing while a bracket is open or after one
 * closed (KVM's scheme). Overlapping brackets pin a page once (a second table records the pins);
 * the first end to reach it releases it. Every step is under a spinlock, so a non-blockable start
 * (v4.19) and its end never sleep.
 */
import type { MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import { MAX_PAGES } from '../scenario/scenario';

const START = site('synthetic', 'pin_invalidate_range_start: get_page on mapped pages', 'v4.13', 'pattern of include/linux/mmu_notifier.h v4.13');
const END = site('synthetic', 'pin_invalidate_range_end: flush sptes, then put_page', 'v4.13', 'pattern of include/linux/mmu_notifier.h v4.13');
// "If required set_page_dirty has to be called internally to this method" (include/linux/mmu_notifier.h
// v4.12, ->invalidate_page): a page the device could write is marked dirty before its pin goes
const DIRTY = site('synthetic', 'pin_invalidate_range_end: set_page_dirty of a writable pin', 'v4.13', 'pattern of include/linux/mmu_notifier.h v4.12 invalidate_page, as ib_umem_odp_unmap_dma_pages does');
const FAULT = site('synthetic', 'pin_device_fault: seq/count retry', 'v4.13');

export interface PagePinState {
  readonly lock: number;
  readonly count: number;
  readonly seq: number;
  readonly spt: number;
  /** Pages pinned by an open bracket, by address (each holds one reference). */
  readonly pins: number;
}

function setup(api: SetupApi): PagePinState {
  return Object.freeze({
    lock: api.spinlock('dev->lock'),
    count: api.counter('dev->invalidate_count'),
    seq: api.counter('dev->invalidate_seq'),
    spt: api.secondaryTable('dev spte'),
    pins: api.secondaryTable('dev pins (range_start)'),
  });
}

function span(k: KernelApi, r: MmuNotifierRange): [number, number] {
  return [k.vpnOf(r.start), k.vpnOf(r.end - 1) + 1];
}

function* invalidateRangeStart(k: KernelApi, s: PagePinState, r: MmuNotifierRange): Gen<number> {
  const [first, end] = span(k, r);
  yield* k.spinLock(s.lock, START);
  yield* k.add(s.count, 1, START);
  for (let vpn = first; vpn < end; vpn++) {
    const e = yield* k.spteRead(s.spt, vpn, START);
    if (!e || (yield* k.spteRead(s.pins, vpn, START))) continue;
    yield* k.getPage(e, START);
    yield* k.spteSet(s.pins, vpn, e, e.writable, START);
  }
  yield* k.spinUnlock(s.lock, START);
  return 0;
}

function* invalidateRangeEnd(k: KernelApi, s: PagePinState, r: MmuNotifierRange): Gen {
  const [first, end] = span(k, r);
  yield* k.spinLock(s.lock, END);
  yield* k.spteClearRange(s.spt, first, end, END); // flush the secondary TLB before the final put
  for (let vpn = first; vpn < end; vpn++) {
    const pin = yield* k.spteRead(s.pins, vpn, END);
    if (!pin) continue;
    yield* k.spteClearRange(s.pins, vpn, vpn + 1, END);
    if (pin.writable) yield* k.setPageDirty(pin, DIRTY);
    yield* k.putPage(pin, END);
  }
  yield* k.add(s.seq, 1, END);
  yield* k.add(s.count, -1, END);
  yield* k.spinUnlock(s.lock, END);
}

/**
 * ->release (the header's rule: "it should tear down all secondary mmu mappings and freeze the
 * secondary mmu", include/linux/mmu_notifier.h v4.13): under the lock, one invalidation stays "in
 * progress" for good (no range_end will come: faults retry, and fail once the mm is gone), every
 * spte is zapped and the pins of brackets that will never get their range_end are dropped.
 */
function* release(k: KernelApi, s: PagePinState): Gen {
  const at = site('synthetic', 'pin_release: freeze the device, zap every spte, drop the pins', 'v4.13', 'pattern of include/linux/mmu_notifier.h v4.13 ->release');
  yield* k.spinLock(s.lock, at);
  yield* k.add(s.count, 1, at);
  yield* k.spteClearRange(s.spt, 0, MAX_PAGES, at);
  for (let vpn = 0; vpn < MAX_PAGES; vpn++) {
    const pin = yield* k.spteRead(s.pins, vpn, at);
    if (!pin) continue;
    yield* k.spteClearRange(s.pins, vpn, vpn + 1, at);
    if (pin.writable) yield* k.setPageDirty(pin, DIRTY);
    yield* k.putPage(pin, at);
  }
  yield* k.spinUnlock(s.lock, at);
}

function* fault(k: KernelApi, s: PagePinState, f: { address: number; write: boolean }): Gen<'mapped' | 'retry' | 'error'> {
  const seq = yield* k.read(s.seq, FAULT);
  const got = yield* k.getUserPagesUnlocked(f.address, f.write);
  if (!got) return 'error';
  yield* k.spinLock(s.lock, FAULT);
  const busy = (yield* k.read(s.count, FAULT)) !== 0 || (yield* k.read(s.seq, FAULT)) !== seq;
  if (!busy) yield* k.spteSet(s.spt, k.vpnOf(f.address), got.page, got.writable, FAULT);
  yield* k.spinUnlock(s.lock, FAULT);
  yield* k.putPage(got.page, FAULT); // the spte keeps no reference
  return busy ? 'retry' : 'mapped';
}

export const pagePin: NotifierDefinition<PagePinState> = {
  name: 'page-pin',
  title: 'generic driver that pins the pages it maps in range_start and releases them in range_end (seq/count fault retry)',
  contract: 'pin',
  eras: ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2'],
  source: 'the range_start/range_end reference rules of include/linux/mmu_notifier.h (v4.13), pattern',
  setup,
  ops: { invalidateRangeStart, invalidateRangeEnd, release },
  device: { table: (s) => s.spt, fault },
};
