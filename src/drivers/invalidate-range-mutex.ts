/**
 * A deliberately broken notifier: its ->invalidate_range takes a mutex. ->invalidate_range is called
 * under the page-table spinlock ("called under the ptl spin-lock and not allowed to sleep",
 * include/linux/mmu_notifier.h v4.13), so this sleeps in atomic context: the class of the drivers that
 * c7ab0d2fdc84 broke by moving invalidate_page under the PTL (reference §3 B2).
 *
 * Apart from that it is a correct `pin` driver: each spte holds the page reference gup took, dropped
 * only when ->invalidate_range zaps the spte, so the VM can never free a page the device maps.
 */
import { pinningFault, unpinRange } from './unpin';
import type { NotifierDefinition } from '../notifier/definition';
import { site } from '../runtime/site';

interface State {
  readonly lock: number;
  readonly spt: number;
}

const INV = site('synthetic', 'sleepy_invalidate_range', 'v4.13', 'synthetic driver reproducing the B2 class');
const FAULT = site('synthetic', 'sleepy_device_fault', 'v4.13', 'synthetic driver reproducing the B2 class');


export const invalidateRangeMutex: NotifierDefinition<State> = {
  name: 'invalidate-range-mutex',
  title: '->invalidate_range takes a mutex (sleeps under the PTL; broken on purpose)',
  contract: 'pin',
  eras: ['v4.10', 'v4.12', 'aac2fea9', 'v4.13', 'v4.15', 'v4.19'],
  source: 'synthetic: the sleeping-callback-under-PTL class of reference §3 B2',
  setup: (api) => Object.freeze({ lock: api.mutex('dev->lock'), spt: api.secondaryTable('dev iotlb') }),
  ops: {
    *invalidateRange(k, s, r) {
      yield* k.mutexLock(s.lock, INV);
      yield* unpinRange(k, s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1), INV);
      yield* k.mutexUnlock(s.lock, INV);
    },
  },
  device: {
    table: (s) => s.spt,
    fault: (k, s, f) => pinningFault(k, s.spt, s.lock, f, FAULT),
  },
};
