import type { NotifierDefinition } from '../notifier/definition';
import { UsageError } from '../runtime/errors';
import { invalidateRangeMutex } from './invalidate-range-mutex';
import { kvm, kvmNoRetry } from './kvm';

/** The built-in driver catalogue. */
export const DRIVERS: readonly NotifierDefinition<any>[] = [kvm, kvmNoRetry, invalidateRangeMutex];

export function driverByName(name: string): NotifierDefinition<any> {
  const d = DRIVERS.find((x) => x.name === name);
  if (!d) throw new UsageError(`unknown driver '${name}' (known: ${DRIVERS.map((x) => x.name).join(', ')})`);
  return d;
}
