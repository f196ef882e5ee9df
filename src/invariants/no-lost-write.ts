import { K_PAGE } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import type { Machine } from '../runtime/machine';

/**
 * A write to a page that migration has already copied must not happen: the copy is what the
 * process sees from then on, so the write is lost once the old page is freed. Migration makes
 * this safe by invalidating every mapping (CPU TLBs and secondary MMUs) before it copies —
 * try_to_unmap in migrate_pages, and for NUMA THP migration the hinting PMD plus, from v5.0, an
 * explicit ->invalidate_range in do_huge_pmd_numa_page. Checked when the old page is freed (a
 * migration that gives up after the copy keeps the old page, and nothing is lost).
 */
export const noLostWrite: StateInvariant = {
  kind: 'state',
  name: 'no-lost-write',
  title: 'no write is lost to page migration',
  rule:
    '"if a secondary MMU can still write to the page, the migrate_page_copy() would lose data" (Andrea Arcangeli, ' +
    '"mm: thp: fix mmu_notifier in migrate_misplaced_transhuge_page()", quoted in mm/huge_memory.c do_huge_pmd_numa_page ' +
    'v5.0.1: "change_huge_pmd() released the pmd lock before invalidating the secondary MMUs sharing the primary MMU ' +
    'pagetables (with ->invalidate_range()) … we need an explicit invalidate"); mm/migrate.c __unmap_and_move unmaps ' +
    'before move_to_new_page copies.',
  watches: K_PAGE,
  check(m: Machine): string | null {
    return m.lostWrite;
  },
};
