/**
 * The teardown of a page-pinning secondary MMU (DESIGN §3.4 contract `pin`): for each page of
 * [first, last] with an entry, drop the entry, then the page reference it held. Shared by the
 * synthetic drivers that keep gup's reference while a page is mapped.
 */
import type { DeviceFault, DeviceFaultResult } from '../notifier/definition';
import type { KernelApi } from '../notifier/kernel-api';
import type { Gen, TableId } from '../runtime/primitives';
import type { Site } from '../runtime/site';

export function* unpinRange(k: KernelApi, table: TableId, first: number, last: number, at: Site): Gen {
  for (let vpn = first; vpn <= last; vpn++) {
    const old = yield* k.spteRead(table, vpn, at);
    if (!old) continue;
    yield* k.spteClearRange(table, vpn, vpn + 1, at);
    yield* k.putPage(old, at);
  }
}

/**
 * The device fault of those drivers: get_user_pages (may sleep, takes a reference), then under the
 * driver's mutex replace the entry for the page, the entry keeping gup's reference.
 */
export function* pinningFault(k: KernelApi, table: TableId, lock: number, f: DeviceFault, at: Site): Gen<DeviceFaultResult> {
  const got = yield* k.getUserPagesUnlocked(f.address, f.write);
  if (!got) return 'error';
  const vpn = k.vpnOf(f.address);
  yield* k.mutexLock(lock, at);
  yield* unpinRange(k, table, vpn, vpn, at);
  yield* k.spteSet(table, vpn, got.page, got.writable, at);
  yield* k.mutexUnlock(lock, at);
  return 'mapped';
}
