import { UsageError } from '../runtime/errors';
import type { Era } from './era';
import { aac2fea9 } from './aac2fea9';
import { v4_10 } from './v4.10';
import { v4_12 } from './v4.12';
import { v4_13 } from './v4.13';
import { v4_15 } from './v4.15';
import { v4_19 } from './v4.19';
import { v5_0 } from './v5.0';
import { v5_2 } from './v5.2';
import { v5_5 } from './v5.5';
import { v6_6 } from './v6.6';

export type { Era };

/** Every modelled era, oldest first. */
export const ERAS: readonly Era[] = [v4_10, v4_12, aac2fea9, v4_13, v4_15, v4_19, v5_0, v5_2, v5_5, v6_6];

export function eraByName(name: string): Era {
  const e = ERAS.find((x) => x.name === name);
  if (!e) throw new UsageError(`unknown kernel era '${name}' (known: ${ERAS.map((x) => x.name).join(', ')})`);
  return e;
}
