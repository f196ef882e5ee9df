import { K_THREAD } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import { addressOf, hex, type Machine } from '../runtime/machine';

/**
 * Every change of a present primary mapping (a PTE cleared, pointed at another page, or
 * write-protected) is told to both kinds of secondary MMU by the thread that made it: start/end
 * users by a range_start … range_end window open around the change (or invalidate_page, ≤ v4.12),
 * devices sharing the page table by a later invalidate_range (or invalidate_page, or a range_end
 * that calls ->invalidate_range), each covering the page. Checked when the thread finishes.
 * Independent of the drivers: it finds core-VM bugs.
 *
 * A huge PMD that changes is a change of every subpage it mapped (runtime/apply-huge.ts), so a THP
 * needs its whole aligned range told. A notification only tells of the changes before it that the
 * thread has not made again since: a THP frozen to migration entries, remapped and then unmapped
 * page by page is not excused for the freeze by what the later unmaps send.
 */
export const fullRangeInvalidated: StateInvariant = {
  kind: 'state',
  name: 'full-range-invalidated',
  title: 'every changed mapping is covered by an invalidation',
  rule:
    'The secondary MMUs must be told of every PTE the VM clears or changes while notifiers are registered ' +
    '(include/linux/mmu_notifier.h: start/end "called only when" the range is changed; invalidate_range "right after ' +
    'the page table update"); a range in pages instead of bytes or not starting at the huge page misses part of it ' +
    "(Andrea Arcangeli's bugs 2 and 3 in the revert 785373b4c387), and an unmap with no notifier call at all misses " +
    'everything (the ≤ v4.12 OOM reaper, fixed by 4d4bbd8526a8).',
  scope: 'core',
  watches: K_THREAD,
  check(m: Machine): string | null {
    for (const o of m.obligations) {
      const t = m.threads[o.thread];
      if (!t.done) continue;
      const told = m.notified
        .filter((x) => x.startsWith(`${o.thread}:`))
        .map((x) => x.slice(x.indexOf(':') + 1))
        .join('; ');
      const missing = [
        o.bracket ? 'no invalidate_range_start/end bracket around it (start/end users such as KVM were not told)' : '',
        o.range ? 'no invalidate_range after it (devices sharing the page table were not told)' : '',
      ].filter((x) => x).join(' and ');
      const again = o.supersededAt !== undefined ? ` before it changed that mapping again at step ${o.supersededAt + 1}` : '';
      return `${t.name} changed the mapping of ${hex(addressOf(o.vpn))} at step ${o.step + 1} with ${missing}${again}; ${t.name} notified: ${told || 'nothing'}`;
    }
    return null;
  },
};
