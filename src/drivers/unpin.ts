/**
 * The teardown of a page-pinning secondary MMU (DESIGN §3.4 contract `pin`): for each page of
 * [first, last] with an entry, drop the entry, then the page reference it held. Shared by the
 * synthetic drivers that keep gup's reference while a page is mapped.
 */
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
