/**
 * mm/madvise.c (v4.13): madvise(MADV_DONTNEED).
 */
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { unmapRange } from './memory';
import { MMAP_SEM } from './mm';

const MADVISE = site('mm/madvise.c', 'SYSCALL_DEFINE3(madvise)', 'v4.13');
const DONTNEED = site('mm/madvise.c', 'madvise_dontneed_single_vma', 'v4.13');

/**
 * `madvise(addr, len, MADV_DONTNEED)`: with mmap_sem held for READ (madvise_need_mmap_write is false
 * for DONTNEED), zap_page_range: the same range_start / zap_pte_range / range_end / tlb_finish_mmu as
 * munmap, but the VMA stays and the next access faults a fresh zero-filled page. Event
 * MMU_NOTIFY_CLEAR (v5.2+).
 */
export function* madviseDontneed(kc: KernelContext, vpn: number, n: number): Gen {
  yield* p.downRead(MMAP_SEM, MADVISE);
  yield* p.note('madvise_dontneed_single_vma → zap_page_range', DONTNEED);
  yield* unmapRange(kc, vpn, n, 'MMU_NOTIFY_CLEAR');
  yield* p.upRead(MMAP_SEM, MADVISE);
}
