/**
 * Checks that a value is a {@link NotifierDefinition} the checker can run, before any execution:
 * the shape (name, contract, eras, setup, ops, device), that every callback is a generator function,
 * and that every declared era exists and has every callback the driver implements (`Era.callbacks`,
 * so a callback added to an era is accepted without a change here).
 *
 * Problems are the user's input, so they throw {@link UsageError} naming the property and the bad
 * value; the first problem found is reported.
 */
import { ERAS, type Era } from '../eras';
import { UsageError } from '../runtime/errors';
import type { NotifierDefinition } from './definition';

const TOP_LEVEL = ['name', 'title', 'contract', 'eras', 'source', 'setup', 'ops', 'device'] as const;
const DEVICE = ['table', 'fault', 'holdsMm', 'ownVma'] as const;

/** `'[object GeneratorFunction]'`, `'[object AsyncGeneratorFunction]'`, `'[object Function]'` … */
function kindOf(f: unknown): string {
  return Object.prototype.toString.call(f).slice(8, -1);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'function') return kindOf(x) === 'GeneratorFunction' ? 'a generator function' : 'a plain function';
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'string') return `the string ${JSON.stringify(x.slice(0, 40))}`;
  return `${typeof x} ${String(x)}`;
}

/** Levenshtein distance, for "did you mean" on misspelled callback names. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

function suggestion(name: string, known: readonly string[]): string {
  const best = known.map((k) => [k, distance(name.toLowerCase(), k.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 3 ? ` (did you mean ${best[0]}?)` : '';
}

/**
 * Throws unless `f` can be a callback: a generator function (`*name(k, s, …) { … }`), or a plain
 * function that returns a generator (`(k, s, f) => pagefaultMr(k, s, f.address)`; that it does is
 * checked when it is called, see instrument.ts). Async functions never can: a step is a yield.
 */
function requireGenerator(f: unknown, where: string): void {
  const kind = kindOf(f);
  if (kind === 'GeneratorFunction' || kind === 'Function') return;
  if (kind === 'AsyncGeneratorFunction' || kind === 'AsyncFunction') {
    throw new UsageError(`${where} is async; callbacks must be synchronous generator functions (a step is a yield, never an await)`);
  }
  throw new UsageError(`${where} must be a generator function, got ${describe(f)}`);
}

function requireFunction(f: unknown, where: string, what: string): void {
  if (typeof f !== 'function') throw new UsageError(`${where} must be ${what}, got ${describe(f)}`);
  const kind = kindOf(f);
  if (kind !== 'Function') throw new UsageError(`${where} must be ${what} (it runs once, outside any thread), got ${describe(f)}`);
}

function requireString(x: unknown, where: string): string {
  if (typeof x !== 'string' || x.trim() === '') throw new UsageError(`${where} must be a non-empty string, got ${describe(x)}`);
  return x;
}

function checkEras(def: Record<string, unknown>): Era[] {
  const eras = def.eras;
  if (!Array.isArray(eras) || eras.length === 0) throw new UsageError(`eras must be a non-empty array of kernel era names (known: ${ERAS.map((e) => e.name).join(', ')}), got ${describe(eras)}`);
  return eras.map((name, i) => {
    if (typeof name !== 'string') throw new UsageError(`eras[${i}] must be a string, got ${describe(name)}`);
    const era = ERAS.find((e) => e.name === name);
    if (!era) throw new UsageError(`declares era '${name}', which mmu-race does not model (known eras: ${ERAS.map((e) => e.name).join(', ')}; see 'mmu-race eras')`);
    return era;
  });
}

function checkOps(ops: unknown, eras: readonly Era[]): void {
  if (typeof ops !== 'object' || ops === null || Array.isArray(ops)) throw new UsageError(`ops must be an object of mmu_notifier_ops callbacks, got ${describe(ops)}`);
  const everywhere = [...new Set(ERAS.flatMap((e) => e.callbacks as readonly string[]))];
  for (const [name, f] of Object.entries(ops)) {
    if (!everywhere.includes(name)) {
      throw new UsageError(`ops.${name} is not a callback of struct mmu_notifier_ops in any modelled era${suggestion(name, everywhere)} (known: ${everywhere.join(', ')})`);
    }
    for (const era of eras) {
      if (!(era.callbacks as readonly string[]).includes(name)) {
        throw new UsageError(
          `ops.${name} is not a callback of struct mmu_notifier_ops in kernel ${era.name}, which the driver declares ` +
            `(${era.name} has ${era.callbacks.join(', ')}): the driver cannot run there; drop the era or the callback`,
        );
      }
    }
    requireGenerator(f, `ops.${name}`);
  }
}

function checkDevice(device: unknown): void {
  if (typeof device !== 'object' || device === null) throw new UsageError(`device must be an object { table(s), *fault(k, s, fault) }, got ${describe(device)}`);
  for (const key of Object.keys(device)) {
    if (!(DEVICE as readonly string[]).includes(key)) throw new UsageError(`device.${key} is not a property of device (expected ${DEVICE.join(', ')})`);
  }
  const d = device as Record<string, unknown>;
  requireFunction(d.table, 'device.table', 'a plain function (s) => TableId returning the secondary table device accesses go through');
  requireGenerator(d.fault, 'device.fault');
  if (d.holdsMm !== undefined && typeof d.holdsMm !== 'boolean') throw new UsageError(`device.holdsMm must be a boolean (the fault path runs in a thread of the mm's process), got ${describe(d.holdsMm)}`);
  if (d.ownVma !== undefined && typeof d.ownVma !== 'string') throw new UsageError(`device.ownVma must be a string saying why the VMA is the driver's own mapping, got ${describe(d.ownVma)}`);
}

/**
 * Validates `x` as a notifier definition; returns it typed. `kernels`, when given, are the eras the
 * check will run, each of which the definition must declare.
 */
export function validateNotifier(x: unknown, kernels?: readonly string[]): NotifierDefinition<unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new UsageError(`a notifier definition must be an object (use defineNotifier({...})), got ${describe(x)}`);
  const def = x as Record<string, unknown>;
  for (const key of Object.keys(def)) {
    if (!(TOP_LEVEL as readonly string[]).includes(key)) throw new UsageError(`unknown property '${key}' in the notifier definition${suggestion(key, TOP_LEVEL)} (expected ${TOP_LEVEL.join(', ')})`);
  }
  const name = requireString(def.name, 'name');
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) throw new UsageError(`name must be letters, digits, '.', '_', '+' or '-' (it names report directories), got ${JSON.stringify(name)}`);
  requireString(def.title, 'title');
  requireString(def.source, 'source');
  if (def.contract !== 'mirror' && def.contract !== 'pin') throw new UsageError(`contract must be 'mirror' or 'pin', got ${describe(def.contract)}`);
  const eras = checkEras(def);
  requireFunction(def.setup, 'setup', 'a plain function (api) => state');
  checkOps(def.ops, eras);
  checkDevice(def.device);
  for (const k of kernels ?? []) {
    if (!eras.some((e) => e.name === k)) throw new UsageError(`driver '${name}' is not written for kernel ${k} (it declares ${eras.map((e) => e.name).join(', ')})`);
  }
  return x as unknown as NotifierDefinition<unknown>;
}

/** The notifier a module exports: its default export, or else an export named `notifier`. */
export function notifierExport(exports: unknown, file: string): unknown {
  const ex = (exports ?? {}) as Record<string, unknown>;
  if (ex.default !== undefined) return ex.default;
  if (ex.notifier !== undefined) return ex.notifier;
  const names = Object.keys(ex).filter((k) => k !== '__esModule');
  throw new UsageError(
    `${file} has no default export and no export named 'notifier'` +
      (names.length > 0 ? ` (it exports ${names.join(', ')})` : ' (it exports nothing)') +
      `: end it with \`export default defineNotifier({ ... })\``,
  );
}
