/**
 * Xen gntdev with the interval notifier (d3eeb1d77c5d "xen/gntdev: use
 * mmu_interval_notifier_insert", v5.5 [S; tag U]): each grant map mmap()ed with `use_ptemod` inserts
 * a `mmu_interval_notifier` over its VMA (`mmu_interval_notifier_insert_locked` in gntdev_mmap), and
 * `gntdev_invalidate` unmaps the grants in the invalidated range. It takes no lock (priv->lock is
 * gone from the notifier) and never calls mmu_interval_set_seq; gntdev_mmap calls
 * mmu_interval_read_begin only to wait out an invalidation in progress ("Since this vma's mappings
 * can't be touched without the mmap_sem, and we are holding it now, there is no need for the
 * notifier_range locking pattern"). Grant maps hold their pages until the map is freed: `pin`.
 *
 * Model, as for the older gntdev (gntdev.ts): the grant map stands over the modelled VMA, and each
 * mapped grant holds a reference to the page the device reaches, which get_user_pages provides (the
 * model has no foreign frames; in the kernel they are allocated by IOCTL_GNTDEV_MAP_GRANT_REF before
 * mmap); the device's fault is the mmap that maps the grant, with mmap_sem held for write. A map is
 * mmap()ed once (v5.7: `if (use_ptemod && map->vma) goto unlock_out`; v6.8: `in_use`), so a grant,
 * once unmapped by the notifier, is not mapped again (the device's access then fails).
 * - v5.5 (read in v5.7.14): `unmap_grant_pages` → `gnttab_unmap_refs_sync` waits (sleeps) for the
 *   unmap; a grant whose handle is already -1 is skipped, and a second unmap of the same handle
 *   fails in the hypervisor (WARN_ON(err)), so the reference goes once.
 * - v6.6 (read in v6.8): dbe97cff7dd9 "xen/gntdev: Avoid blocking in unmap_grant_pages()" (v5.19
 *   [U]): `being_removed[]` marks the grants, `gnttab_unmap_refs_async` completes the unmap later
 *   (modelled as at once), nothing sleeps.
 *
 * Not modelled: the deadlock dbe97cff7dd9 fixed ("i915 was waiting for gntdev's MMU notifier to
 * finish, while gntdev was waiting for i915 to free its pages", QubesOS issue 7481): the synchronous
 * unmap waits for the grant pages' other users to drop them, and the model has no second driver
 * holding them nor a wait on a page's reference count.
 */
import type { DeviceFault, DeviceFaultResult, MmuNotifierRange, NotifierDefinition, SetupApi } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen } from '../runtime/primitives';
import { MAX_PAGES } from '../scenario/scenario';

import { GNTDEV_VMA } from './gntdev';
import { site } from '../runtime/site';

const GNTDEV = 'drivers/xen/gntdev.c';

export interface GntdevIntervalState {
  /** `priv->lock`: taken by gntdev_mmap around the map lookup and the notifier insert only. */
  readonly lock: number;
  readonly grants: number;
  /** Per page of the map: `map->vma` (v5.7) / `map->in_use` (v6.8): the grant was mmap()ed. */
  readonly mapped: readonly number[];
  /** `map->notifier`. */
  readonly sub: number;
}

function setup(api: SetupApi): GntdevIntervalState {
  return Object.freeze({
    lock: api.mutex('gntdev priv->lock'),
    grants: api.secondaryTable('gntdev grant map'),
    mapped: Object.freeze(Array.from({ length: MAX_PAGES }, (_, i) => api.counter(`gntdev grant ${i}: mmap()ed`))),
    sub: api.intervalNotifier('map->notifier'),
  });
}

/**
 * `gntdev_invalidate()`: false when !blockable; the grants of the range are unmapped, each once.
 * `sync`: v5.7's gnttab_unmap_refs_sync (sleeps); v6.8's gnttab_unmap_refs_async (does not).
 */
function invalidate(v: string, sync: boolean) {
  const at = site(GNTDEV, 'gntdev_invalidate', v);
  const unmap = site(GNTDEV, sync ? 'unmap_grant_pages → gnttab_unmap_refs_sync' : 'unmap_grant_pages → gnttab_unmap_refs_async', v, sync ? undefined : 'the asynchronous unmap is modelled as done at once');
  return function* (k: KernelApi, s: GntdevIntervalState, _sub: number, r: MmuNotifierRange): Gen<boolean> {
    if (r.blockable === false) return false;
    // the map covers the modelled VMA: every invalidated page is in it
    for (let vpn = k.vpnOf(r.start); vpn <= k.vpnOf(r.end - 1); vpn++) {
      const page = yield* k.spteRead(s.grants, vpn, at); // unmap_ops[].handle (v5.7) / being_removed[] (v6.8)
      if (!page) continue;
      if (sync) yield* k.mightSleep('gnttab_unmap_refs_sync: wait_for_completion', unmap);
      // a handle unmapped twice fails the second time: only the unmap that found it drops the page
      if ((yield* k.spteClearRange(s.grants, vpn, vpn + 1, unmap)) > 0) yield* k.putPage(page, unmap);
    }
    return true;
  };
}

/** `gntdev_mmap()` of the grant at the device's address, under mmap_sem held for write. */
function mmap(v: string) {
  const at = site(GNTDEV, 'gntdev_mmap', v);
  const mapPages = site(GNTDEV, 'gntdev_mmap → gntdev_map_grant_pages', v, 'model: the page gup finds stands for the granted frame');
  const lockMm = site('mm/util.c', v === 'v5.7' ? 'vm_mmap_pgoff: down_write_killable(&mm->mmap_sem)' : 'vm_mmap_pgoff: mmap_write_lock_killable(mm)', v);
  const unlockMm = site('mm/util.c', v === 'v5.7' ? 'vm_mmap_pgoff: up_write(&mm->mmap_sem)' : 'vm_mmap_pgoff: mmap_write_unlock(mm)', v);
  return function* (k: KernelApi, s: GntdevIntervalState, f: DeviceFault): Gen<DeviceFaultResult> {
    const got = yield* k.getUserPagesUnlocked(f.address, f.write); // the frame (IOCTL_GNTDEV_MAP_GRANT_REF)
    if (!got) return 'error';
    const vpn = k.vpnOf(f.address);
    yield* k.downWrite(k.mmapSem, lockMm);
    yield* k.mutexLock(s.lock, at); // gntdev_find_map_index; mmu_interval_notifier_insert_locked
    const once = (yield* k.read(s.mapped[vpn], at)) === 0;
    if (once) yield* k.write(s.mapped[vpn], 1, at);
    yield* k.mutexUnlock(s.lock, at);
    if (once) {
      yield* k.mmuIntervalReadBegin(s.sub); // waits out an invalidation in progress; the seq is not kept
      yield* k.spteSet(s.grants, vpn, got.page, got.writable, mapPages);
    } else {
      yield* k.putPage(got.page, at); // map->vma already set: -EINVAL
    }
    yield* k.upWrite(k.mmapSem, unlockMm);
    return once ? 'mapped' : 'error';
  };
}

export const xenGntdev55: NotifierDefinition<GntdevIntervalState> = {
  name: 'xen-gntdev',
  title: 'Xen gntdev (v5.5, read in v5.7): interval notifier per map, no lock, no set_seq; gntdev_invalidate returns false when !blockable, else unmaps synchronously (sleeps)',
  contract: 'pin',
  eras: ['v5.5'],
  source: `${GNTDEV} gntdev_invalidate, unmap_grant_pages, gntdev_mmap (v5.7.14); d3eeb1d77c5d (v5.5)`,
  setup,
  ops: { invalidate: invalidate('v5.7', true) },
  device: { table: (s) => s.grants, fault: mmap('v5.7'), ownVma: GNTDEV_VMA },
};

export const xenGntdev66: NotifierDefinition<GntdevIntervalState> = {
  name: 'xen-gntdev',
  title: 'Xen gntdev (v6.6, read in v6.8): as v5.5, the unmap asynchronous (being_removed[], gnttab_unmap_refs_async: dbe97cff7dd9)',
  contract: 'pin',
  eras: ['v6.6'],
  source: `${GNTDEV} gntdev_invalidate, unmap_grant_pages, __unmap_grant_pages, gntdev_mmap (v6.8); dbe97cff7dd9 (v5.19)`,
  setup,
  ops: { invalidate: invalidate('v6.8', false) },
  device: { table: (s) => s.grants, fault: mmap('v6.8'), ownVma: GNTDEV_VMA },
};
