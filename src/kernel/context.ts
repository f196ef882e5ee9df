import type { Era } from '../eras/era';
import type { KernelApi } from '../notifier/kernel-api';
import type { NotifierInstance } from '../notifier/definition';

/** What core-VM code needs besides the machine: the era's rules and the registered notifiers. */
export interface KernelContext {
  readonly era: Era;
  /** `mm->mmu_notifier_mm->list`, in registration order. */
  readonly notifiers: readonly NotifierInstance[];
  /** The API handed to notifier callbacks. */
  readonly k: KernelApi;
}
