import { K_THREAD } from '../runtime/footprint';
import type { StateInvariant } from '../runtime/invariant';
import { PAGE_SIZE, VMA_BASE, ZERO_PFN, addressOf, hex, isHugeZero, pageTableEntry, type Machine } from '../runtime/machine';

/** Whether some thread is in the middle of changing `vpn` (an open range_start window, or a change not yet notified). */
function inFlight(m: Machine, vpn: number): boolean {
  const a = VMA_BASE + vpn * PAGE_SIZE;
  const overlaps = (r: { start: number; end: number }) => r.start < a + PAGE_SIZE && a < r.end;
  return m.windows.some(overlaps) || m.notifying.some(overlaps) || m.obligations.some((o) => o.vpn === vpn);
}

/**
 * For drivers whose contract is `mirror`: once an operation that invalidated a range has finished
 * (its range_end returned, then its thread completed), no secondary entry in the range maps a pfn
 * other than the CPU PTE's, nor with more permission — unless another thread is in the middle of
 * changing that page. A `pin` driver may lag (it holds its pages) and is not checked. Checked when
 * the invalidating thread finishes, so that a use-after-free, the graver outcome of the same race, is
 * reported first when there is one.
 */
export const secondaryFollowsPrimary: StateInvariant = {
  kind: 'state',
  name: 'secondary-follows-primary',
  title: 'a mirror follows the CPU page table after each invalidation',
  rule:
    '"establishing sptes in the range is forbidden for the whole duration of the start..end critical section" ' +
    '(include/linux/mmu_notifier.h v4.13): a mirror re-established between range_start and the PTE change keeps the ' +
    'old page after range_end (the kill-invalidate_page cover letter, reference §3 B7); a write-protect the device ' +
    'ignores is a permission leak (reference §5.2 rule 6).',
  lesser: true,
  watches: K_THREAD,
  check(m: Machine): string | null {
    for (const c of m.mirrorChecks) {
      if (!m.threads[c.thread].done) continue;
      const first = Math.max(0, Math.floor((c.start - VMA_BASE) / PAGE_SIZE));
      const last = Math.min(m.nPages, Math.ceil((c.end - VMA_BASE) / PAGE_SIZE));
      for (const t of m.tables) {
        if (!t.mirror) continue;
        for (let v = first; v < last; v++) {
          const s = t.entries[v];
          if (s === null || inFlight(m, v)) continue;
          const pte = pageTableEntry(m, v); // a PTE, or the subpage of a huge PMD
          // the huge zero page's subpage for the zero page, after __split_huge_zero_page_pmd: "it is fine if the
          // secondary mmu keeps pointing to the old zero page in the meantime" (mm/huge_memory.c __split_huge_pmd v4.19)
          if (pte && !pte.swap && pte.pfn === ZERO_PFN && isHugeZero(m, s.pfn)) continue;
          const who = `after ${m.threads[c.thread].name} invalidated it and finished`;
          if (!pte || pte.swap || pte.pfn !== s.pfn || pte.generation !== s.generation) {
            const cpu = !pte ? 'none' : pte.swap ? 'a swap entry' : `pfn ${pte.pfn}/g${pte.generation}`;
            return `${t.name} still maps ${hex(addressOf(v))} to pfn ${s.pfn}/g${s.generation} ${who}; the CPU PTE is ${cpu}`;
          }
          // a NUMA hinting entry (change_prot_numa) is compared as the mapping its hinting fault gives back (same
          // page, the saved write bit up to v5.7): a device that keeps its translation of one only misses NUMA
          // hints (GRU's atomic_pte_lookup even installs them: pte_present() is true for PROT_NONE on x86), and
          // what makes that a bug, a migration that tells no one (migrate_misplaced_transhuge_page v5.0+), is
          // seen by no-secondary-maps-freed-page and no-lost-write
          if (pte.protnone) continue;
          if (s.writable && !pte.writable) return `${t.name} still maps ${hex(addressOf(v))} writable ${who}; the CPU PTE is read-only`;
        }
      }
    }
    return null;
  },
};
