import { K_ALLOC, K_PAGE, K_SPTE } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import { addressOf, hex, type Machine } from '../runtime/machine';

/**
 * No secondary MMU entry points at a free page, or at an older generation of its pfn: a device
 * access through it would be a use-after-free (DESIGN §3.5, reference §5.2 rule 1).
 */
export const noSecondaryMapsFreedPage: StateInvariant = {
  kind: 'state',
  name: 'no-secondary-maps-freed-page',
  title: 'no secondary MMU maps a freed page',
  rule:
    'invalidate_range_start() is called while all pages are still mapped and have refcount >= 1; ' +
    'the secondary MMU must drop its mappings before the VM frees them, and "establishing sptes in the ' +
    'range is forbidden for the whole duration of the start..end critical section" ' +
    '(include/linux/mmu_notifier.h, v4.13).',
  watches: K_PAGE | K_ALLOC | K_SPTE,
  check(m: Machine): string | null {
    for (const t of m.tables) {
      const entries = t.entries;
      for (let v = 0; v < entries.length; v++) {
        const s = entries[v];
        if (s === null) continue;
        const p = m.pages[s.pfn];
        if (p.free || p.generation !== s.generation) {
          const now = p.free ? 'free' : `reallocated (generation ${p.generation})`;
          const when = p.freedAt >= 0 ? ` since step ${p.freedAt + 1}` : '';
          return `${t.name} maps ${hex(addressOf(v))} to pfn ${s.pfn} generation ${s.generation}, but that page is ${now}${when}`;
        }
      }
    }
    return null;
  },
};
