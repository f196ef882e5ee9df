/**
 * The modelled mm_struct's own locks, created first in every machine so their ids are constants.
 */
import { addLock, createMachine, LockKind, type Machine } from '../runtime/machine';

/** `mm->mmap_sem` (renamed mmap_lock in v5.8): a sleeping rw-semaphore. */
export const MMAP_SEM = 0;
/** The page-table lock of the one PTE table covering the modelled VMA (`pte_lockptr()`). */
export const PTL = 1;
/** `anon_vma->rwsem`, taken for read by `rmap_walk_anon()`. */
export const ANON_VMA_RWSEM = 2;

export function createMm(nPages: number): Machine {
  const m = createMachine(nPages);
  addLock(m, LockKind.RwSem, 'mmap_sem');
  addLock(m, LockKind.Spin, 'ptl');
  addLock(m, LockKind.RwSem, 'anon_vma->rwsem');
  return m;
}
