/**
 * Named scenarios, shared by exhaustive exploration (`mmu-race explore --scenario NAME`) and the
 * tests: the small interleaving problems of the MMU-notifier protocol, each a CPU-side change of a
 * mapping racing a device fault through the secondary MMU.
 */
import { UsageError } from '../runtime/errors';
import type { Scenario } from './scenario';

export interface CatalogueEntry {
  readonly name: string;
  /** What it exercises, in one line. */
  readonly title: string;
  /** Part of the spine: small enough to explore completely within 2 preemptions in tests. */
  readonly spine: boolean;
  readonly scenario: Scenario;
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  {
    name: 'fault-vs-munmap',
    title: 'a device fault racing munmap of the page (zap, range_start/end, tlb_finish_mmu frees after range_end)',
    spine: true,
    scenario: {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
      ],
    },
  },
  {
    name: 'fault-vs-reclaim',
    title: 'a device fault racing reclaim of the page (try_to_unmap_one, ->invalidate_range under the PTL, page_ref_freeze)',
    spine: true,
    scenario: {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
        { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
      ],
    },
  },
  {
    name: 'cow-vs-device',
    title: 'a device mapping the zero page while the CPU breaks COW on it (wp_page_copy, ptep_clear_flush_notify)',
    spine: true,
    scenario: {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: false }, { op: 'access', page: 0, write: true }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
      ],
    },
  },
  {
    name: 'device-write-vs-reclaim',
    title: 'a device write fault racing reclaim (the fast gup path with a writable PTE, swap-in after reclaim)',
    spine: false,
    scenario: {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
        { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] },
      ],
    },
  },
  {
    name: 'fault-vs-reclaim-thp',
    title:
      'a device fault racing reclaim of a PTE-mapped THP (order 2; munmap of its head page split the PMD): the rmap walk ' +
      'visits three subpage PTEs, so the range to invalidate is the huge page, not one page (aac2fea9: 1UL << order from the last PTE)',
    spine: false,
    scenario: {
      thp: true,
      thpOrder: 2,
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }] },
        { kind: 'reclaim', ops: [{ op: 'reclaim', page: 1 }] },
        { kind: 'device', ops: [{ op: 'access', page: 2, write: false }] },
      ],
    },
  },
  {
    name: 'munmap-vs-reclaim',
    title: 'munmap and reclaim of the same page with a device fault in between (two invalidations in flight)',
    spine: false,
    scenario: {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'munmap', page: 0, pages: 1 }] },
        { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
      ],
    },
  },
  {
    name: 'exit-vs-reclaim',
    title: 'the mm exits (exit_mmap: ->release, unlink, synchronize_srcu, then unmap_vmas reaching nobody) while reclaim unmaps its page',
    spine: false,
    scenario: {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] },
        { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
      ],
    },
  },
  {
    name: 'unregister-vs-exit',
    title: 'mmu_notifier_unregister racing exit_mmap (reference §3 B19: each ->release under SRCU, synchronize_srcu on both sides)',
    spine: false,
    scenario: {
      threads: [
        { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }, { op: 'exit' }] },
        { kind: 'device', ops: [{ op: 'access', page: 0, write: false }, { op: 'unregister' }] },
      ],
    },
  },
];

export function catalogueEntry(name: string): CatalogueEntry {
  const e = CATALOGUE.find((x) => x.name === name);
  if (!e) throw new UsageError(`unknown scenario '${name}' (catalogue: ${CATALOGUE.map((x) => x.name).join(', ')}; or give a scenario file)`);
  return e;
}
