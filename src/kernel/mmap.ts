/**
 * mm/mmap.c (v4.13): munmap.
 */
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site, type Site } from '../runtime/site';
import type { KernelContext } from './context';
import { unmapRange } from './memory';
import { vmaAdjustTransHuge } from './huge_memory';
import { MMAP_SEM } from './mm';

const VM_MUNMAP = site('mm/mmap.c', 'vm_munmap', 'v4.13');
const DO_MUNMAP = site('mm/mmap.c', 'do_munmap', 'v4.13');

/**
 * `vm_munmap(start, len)`: down_write(mmap_sem); do_munmap detaches the VMAs (later faults find no
 * VMA) and unmap_region zaps the PTEs (unmap_vmas with its range_start/end bracket, then
 * tlb_finish_mmu frees the gathered pages after range_end); up_write(mmap_sem).
 */
export function* vmMunmap(kc: KernelContext, vpn: number, n: number): Gen {
  yield* p.downWrite(MMAP_SEM, VM_MUNMAP);
  // __split_vma → vma_adjust_trans_huge: a huge PMD cut by the new VMA boundary is split first
  if (kc.thpOrder) yield* vmaAdjustTransHuge(kc, vpn, n);
  yield* p.vmaDetach(vpn, n, DO_MUNMAP);
  yield* unmapRange(kc, vpn, n);
  yield* p.upWrite(MMAP_SEM, VM_MUNMAP);
}

/**
 * The VMAs as runs of consecutive pages (`for (vma = mm->mmap; vma; vma = vma->vm_next)`), each
 * `[first vpn, pages]`: the modelled VMA less what munmap detached.
 */
export function* vmaRuns(nPages: number, at: Site): Gen<[number, number][]> {
  const runs: [number, number][] = [];
  for (let v = 0; v < nPages; v++) {
    if (!(yield* p.vmaLookup(v, at))) continue;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === v) last[1]++;
    else runs.push([v, 1]);
  }
  return runs;
}
