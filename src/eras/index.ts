import { UsageError } from '../runtime/errors';
import type { Era } from './era';
import { v4_13 } from './v4.13';

export type { Era };

/** Every modelled era, oldest first. */
export const ERAS: readonly Era[] = [v4_13];

export function eraByName(name: string): Era {
  const e = ERAS.find((x) => x.name === name);
  if (!e) throw new UsageError(`unknown kernel era '${name}' (known: ${ERAS.map((x) => x.name).join(', ')})`);
  return e;
}
