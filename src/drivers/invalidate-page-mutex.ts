/**
 * A notifier whose ->invalidate_page takes a mutex, as xen gntdev's mn_invl_page did
 * (`mutex_lock(&priv->lock)`, drivers/xen/gntdev.c v4.12) and amdgpu's (mutex + fence wait,
 * reference §1.b): correct while invalidate_page ran after the PTL was dropped (≤ v4.10), a sleep in
 * atomic context once c7ab0d2fdc84 moved the call under the PTL (v4.11 … v4.13-rc6; reference §3 B2).
 *
 * Otherwise a correct `pin` driver: each spte holds the page reference gup took and drops it when an
 * invalidation zaps the spte, so the VM never frees a page the device maps.
 */
import type { MmuNotifierRange, NotifierDefinition } from '../notifier/definition';
import { pinningFault, unpinRange } from './unpin';
import { site } from '../runtime/site';

interface State {
  readonly lock: number;
  readonly spt: number;
}

const PAGE = site('drivers/xen/gntdev.c', 'mn_invl_page (pattern)', 'v4.12', 'generic pin driver with the gntdev/amdgpu locking pattern');
const START = site('drivers/xen/gntdev.c', 'mn_invl_range_start (pattern)', 'v4.12', 'generic pin driver with the gntdev/amdgpu locking pattern');
const FAULT = site('synthetic', 'pin_device_fault', 'v4.12', 'get_user_pages, keep the reference while mapped');


export const invalidatePageMutex: NotifierDefinition<State> = {
  name: 'invalidate-page-mutex',
  title: '->invalidate_page takes a mutex (fine after the PTL, a sleep in atomic context under it)',
  contract: 'pin',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: 'the locking of drivers/xen/gntdev.c mn_invl_page / amdgpu_mn_invalidate_page (v4.12), reference §3 B2',
  setup: (api) => Object.freeze({ lock: api.mutex('priv->lock'), spt: api.secondaryTable('dev map') }),
  ops: {
    *invalidatePage(k, s, address) {
      yield* k.mutexLock(s.lock, PAGE);
      yield* unpinRange(k, s.spt, k.vpnOf(address), k.vpnOf(address), PAGE);
      yield* k.mutexUnlock(s.lock, PAGE);
    },
    *invalidateRangeStart(k, s, r: MmuNotifierRange) {
      yield* k.mutexLock(s.lock, START);
      yield* unpinRange(k, s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1), START);
      yield* k.mutexUnlock(s.lock, START);
    },
  },
  device: {
    table: (s) => s.spt,
    fault: (k, s, f) => pinningFault(k, s.spt, s.lock, f, FAULT),
  },
};
