/**
 * Two `pin` drivers whose ->invalidate_range_start takes a mutex, as amdgpu's did
 * (drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c amdgpu_mn_invalidate_range_start_gfx: `mutex_lock(&amn->read_lock)`
 * before v4.19, reference §2.3):
 * - `range-start-mutex` sleeps whatever `blockable` says: fine while the OOM reaper skipped mms with
 *   notifiers (v4.13 … v4.18), a sleep in a non-blockable invalidation from v4.19 (reference §3 B11);
 * - `range-start-trylock` is the v4.19 fix: `if (blockable) mutex_lock(...); else if
 *   (!mutex_trylock(...)) return -EAGAIN;` (amdgpu_mn.c amdgpu_mn_read_lock v4.19).
 * Each spte holds the page reference gup took, dropped when range_start zaps it.
 */
import { EAGAIN, type NotifierDefinition } from '../notifier/definition';
import { pinningFault, unpinRange } from './unpin';
import { site } from '../runtime/site';

interface State {
  readonly lock: number;
  readonly spt: number;
}

const START = site('drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c', 'amdgpu_mn_invalidate_range_start_gfx (pattern)', 'v4.13', 'generic pin driver with the amdgpu locking');
const READ_LOCK = site('drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c', 'amdgpu_mn_read_lock (pattern)', 'v4.19', 'generic pin driver with the amdgpu locking');
const FAULT = site('synthetic', 'pin_device_fault', 'v4.13', 'get_user_pages, keep the reference while mapped');


function definition(trylock: boolean): NotifierDefinition<State> {
  return {
    name: trylock ? 'range-start-trylock' : 'range-start-mutex',
    title: trylock
      ? 'range_start mutex, trylock + -EAGAIN when not blockable (the v4.19 amdgpu fix)'
      : 'range_start takes a mutex even when not blockable (sleeps in the OOM reaper from v4.19; broken on purpose)',
    contract: 'pin',
    eras: ['v4.13', 'v4.15', 'v4.19', 'v5.0', 'v5.2', 'v5.5', 'v6.6'],
    source: trylock ? 'drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c amdgpu_mn_read_lock (v4.19), pattern' : 'drivers/gpu/drm/amd/amdgpu/amdgpu_mn.c (v4.13), pattern; reference §3 B11',
    setup: (api) => Object.freeze({ lock: api.mutex('amn->read_lock'), spt: api.secondaryTable('gpu userptr') }),
    ops: {
      *invalidateRangeStart(k, s, r) {
        if (trylock && r.blockable === false) {
          if (!(yield* k.mutexTrylock(s.lock, READ_LOCK))) return EAGAIN;
        } else {
          yield* k.mutexLock(s.lock, trylock ? READ_LOCK : START);
        }
        yield* unpinRange(k, s.spt, k.vpnOf(r.start), k.vpnOf(r.end - 1), START);
        yield* k.mutexUnlock(s.lock, START);
        return 0;
      },
    },
    device: {
      table: (s) => s.spt,
      fault: (k, s, f) => pinningFault(k, s.spt, s.lock, f, FAULT),
    },
  };
}

export const rangeStartMutex = definition(false);
export const rangeStartTrylock = definition(true);
