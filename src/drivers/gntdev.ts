/**
 * Xen gntdev (drivers/xen/gntdev.c): grant maps mapped into a user VMA; the notifier unmaps the
 * grants of every map that overlaps an invalidated range (`unmap_if_in_range` →
 * `unmap_grant_pages` → `gnttab_unmap_refs_sync`, which waits for a completion) under
 * `priv->lock`, a mutex. Grant maps hold their pages until unmapped: `pin`.
 *
 * Model: the grant map stands over the modelled VMA and each mapped grant holds a reference to the
 * page the device reaches (the model has no foreign frames: get_user_pages provides the page);
 * mapping a grant (gntdev_mmap / IOCTL_GNTDEV_MAP_GRANT_REF, here the device's fault) takes
 * `priv->lock`. What the model checks is the notifier's locking in each era:
 * - ≤ v4.12: `mn_invl_page(address)` = `mn_invl_range_start(address, address + PAGE_SIZE)`: the mutex
 *   under the PTL from v4.11 (reference §3 B2);
 * - v4.13/v4.15: `mn_invl_range_start` only;
 * - v4.19: `if (blockable) mutex_lock(&priv->lock); else if (!mutex_trylock(&priv->lock)) return
 *   -EAGAIN;` and `unmap_if_in_range` returns -EAGAIN for an overlapping map when !blockable.
 */
import { EAGAIN, type MmuNotifierRange, type NotifierDefinition, type SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';

/** The grants are mapped into gntdev's own VMA (gntdev_mmap: vm_ops, VM_DONTEXPAND | VM_DONTDUMP), not an anonymous one. */
export const GNTDEV_VMA = 'the grant map is gntdev\'s own VMA (drivers/xen/gntdev.c gntdev_mmap)';
import { MAX_PAGES } from '../scenario/scenario';

const GNTDEV = 'drivers/xen/gntdev.c';

export interface GntdevState {
  /** `priv->lock`. */
  readonly lock: number;
  readonly grants: number;
}

function setup(api: SetupApi): GntdevState {
  return Object.freeze({ lock: api.mutex('gntdev priv->lock'), grants: api.secondaryTable('gntdev grant map') });
}

/** `unmap_if_in_range()` for the grants in `r` (caller holds priv->lock). */
function* unmapIfInRange(k: KernelApi, s: GntdevState, r: MmuNotifierRange, version: string): Gen {
  const at = site(GNTDEV, 'unmap_if_in_range → unmap_grant_pages → gnttab_unmap_refs_sync', version);
  for (let vpn = k.vpnOf(r.start); vpn <= k.vpnOf(r.end - 1); vpn++) {
    const page = yield* k.spteRead(s.grants, vpn, at);
    if (!page) continue;
    yield* k.mightSleep('wait_for_completion (grant unmap)', at);
    yield* k.spteClearRange(s.grants, vpn, vpn + 1, at);
    yield* k.putPage(page, at);
  }
}

function rangeStart(version: string) {
  const at = site(GNTDEV, 'mn_invl_range_start', version);
  return function* (k: KernelApi, s: GntdevState, r: MmuNotifierRange): Gen {
    yield* k.mutexLock(s.lock, at);
    yield* unmapIfInRange(k, s, r, version);
    yield* k.mutexUnlock(s.lock, at);
  };
}

function* rangeStart419(k: KernelApi, s: GntdevState, r: MmuNotifierRange): Gen<number> {
  const at = site(GNTDEV, 'mn_invl_range_start', 'v4.19');
  if (r.blockable !== false) yield* k.mutexLock(s.lock, at);
  else if (!(yield* k.mutexTrylock(s.lock, at))) return EAGAIN;
  if (r.blockable === false) {
    // unmap_if_in_range: in_range(map, start, end) → if (!blockable) return -EAGAIN (the model's map
    // covers the VMA, so it always overlaps)
    yield* k.mutexUnlock(s.lock, at);
    return EAGAIN;
  }
  yield* unmapIfInRange(k, s, r, 'v4.19');
  yield* k.mutexUnlock(s.lock, at);
  return 0;
}

/**
 * `mn_release()` (gntdev.c v4.10.17, v4.13.19, v4.19.95, v5.2.1): under priv->lock, every map (and
 * freeable map) with a VMA is unmapped whole (`unmap_grant_pages(map, 0, map->count)`); the model's
 * map covers the modelled VMA (at most MAX_PAGES pages).
 */
function release(version: string) {
  const at = site(GNTDEV, 'mn_release', version);
  return function* (k: KernelApi, s: GntdevState): Gen {
    yield* k.mutexLock(s.lock, at);
    yield* unmapIfInRange(k, s, { start: k.addressOf(0), end: k.addressOf(MAX_PAGES) }, version);
    yield* k.mutexUnlock(s.lock, at);
  };
}

/** Mapping a grant at the device's address, under priv->lock; the map keeps the page. */
function mapGrant(version: string) {
  const at = site(GNTDEV, 'gntdev_ioctl_map_grant_ref / gntdev_mmap → map_grant_pages', version, 'model: the page gup finds stands for the granted frame');
  return function* (k: KernelApi, s: GntdevState, f: { address: number; write: boolean }): Gen<'mapped' | 'error'> {
    const got = yield* k.getUserPagesUnlocked(f.address, f.write);
    if (!got) return 'error';
    const vpn = k.vpnOf(f.address);
    yield* k.mutexLock(s.lock, at);
    const old = yield* k.spteRead(s.grants, vpn, at);
    if (old && (!f.write || old.writable)) {
      yield* k.putPage(got.page, at); // already mapped
    } else {
      yield* k.spteSet(s.grants, vpn, got.page, got.writable, at); // (re)map, writable if asked
      if (old) yield* k.putPage(old, at);
    }
    yield* k.mutexUnlock(s.lock, at);
    return 'mapped';
  };
}

export const xenGntdevLegacy: NotifierDefinition<GntdevState> = {
  name: 'xen-gntdev',
  title: 'Xen gntdev (v4.10/v4.12): priv->lock mutex in mn_invl_page and mn_invl_range_start (sleeps under the PTL from v4.11, B2)',
  contract: 'pin',
  eras: ['v4.10', 'v4.12', 'aac2fea9'],
  source: `${GNTDEV} mn_invl_page, mn_invl_range_start, unmap_grant_pages (v4.12; v4.10.17 identical ops)`,
  setup,
  ops: {
    *invalidatePage(k, s, address) {
      yield* rangeStart('v4.12')(k, s, { start: address, end: address + k.PAGE_SIZE });
    },
    invalidateRangeStart: rangeStart('v4.12'),
    release: release('v4.12'),
  },
  device: { table: (s) => s.grants, fault: mapGrant('v4.12'), ownVma: GNTDEV_VMA },
};

export const xenGntdev: NotifierDefinition<GntdevState> = {
  name: 'xen-gntdev',
  title: 'Xen gntdev (v4.13/v4.15): range_start only, priv->lock mutex',
  contract: 'pin',
  eras: ['v4.13', 'v4.15'],
  source: `${GNTDEV} mn_invl_range_start (v4.13.9, v4.15.18)`,
  setup,
  ops: { invalidateRangeStart: rangeStart('v4.13'), release: release('v4.13') },
  device: { table: (s) => s.grants, fault: mapGrant('v4.13'), ownVma: GNTDEV_VMA },
};

export const xenGntdev419: NotifierDefinition<GntdevState> = {
  name: 'xen-gntdev',
  title: 'Xen gntdev (v4.19 … v5.2): mutex_trylock and -EAGAIN on an overlapping map when not blockable',
  contract: 'pin',
  eras: ['v4.19', 'v5.0', 'v5.2'],
  source: `${GNTDEV} mn_invl_range_start(blockable), unmap_if_in_range (v4.19.95; v5.0.1, v5.2.1 read range->blockable / mmu_notifier_range_blockable())`,
  setup,
  ops: { invalidateRangeStart: rangeStart419, release: release('v4.19') },
  device: { table: (s) => s.grants, fault: mapGrant('v4.19'), ownVma: GNTDEV_VMA },
};
