/**
 * arch/x86/mm/fault.c (v4.13): a user access that misses in the CPU page table.
 */
import { addressOf, hex } from '../runtime/machine';
import * as p from '../runtime/primitives';
import type { Gen } from '../runtime/primitives';
import { site } from '../runtime/site';
import type { KernelContext } from './context';
import { handleMmFault } from './memory';
import { MMAP_SEM } from './mm';

const DO_FAULT = site('arch/x86/mm/fault.c', '__do_page_fault', 'v4.13');

/**
 * A user read or write of the page at `vpn`: if the PTE allows it the access just happens (the
 * hardware sets the accessed/dirty bits, not modelled); otherwise __do_page_fault takes mmap_sem for
 * read, finds the VMA (SIGSEGV if none) and calls handle_mm_fault.
 */
export function* userAccess(kc: KernelContext, vpn: number, write: boolean): Gen {
  if (yield* p.pteTouch(vpn, write, site('arch/x86', 'MMU page walk (hardware sets the A/D bits)', 'v4.13'))) return;
  yield* p.downRead(MMAP_SEM, DO_FAULT);
  // find_vma(); good_area: if (unlikely(access_error(error_code, vma))) bad_area_access_error
  if (yield* p.vmaAllows(vpn, write, DO_FAULT)) {
    yield* handleMmFault(kc, vpn, write, DO_FAULT);
  } else {
    yield* p.note(`SIGSEGV at ${hex(addressOf(vpn))}: no VMA, or the VMA does not allow the ${write ? 'write' : 'read'}`, DO_FAULT);
  }
  yield* p.upRead(MMAP_SEM, DO_FAULT);
}
