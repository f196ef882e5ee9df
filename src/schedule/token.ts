/**
 * Replay tokens: a short string that reproduces one execution exactly (kernel, driver, scenario,
 * preemptions, step budget). Format: `mr1.` + base64url(crc32 ‖ deflate(JSON)). The checksum makes a
 * corrupt or truncated token a clear error instead of a different execution.
 */
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Case } from '../check/case';
import { UsageError } from '../runtime/errors';
import { validateScenario } from '../scenario/scenario';

const PREFIX = 'mr1.';

/** `thpOrder` (a 7th element, after `invariants` or null) is there only for a scenario with THP: older tokens decode as before. */
/** `file` (an 8th element, 1, after `thpOrder` or null) is there only for a scenario with a shared file VMA. */
/** `dax` (a 9th element, 1, after `file`) is there only for a DAX scenario (src/kernel/dax.ts). */
type Compact = [kernel: string, driver: string, threads: [string, (string | number)[][]][], preemptions: number[], maxSteps: number, invariants?: string[] | null, thpOrder?: number | null, file?: number, dax?: number];

type AnyOp = Case['scenario']['threads'][number]['ops'][number];

/** One operation as a short array: a one-letter code and its operands. */
function encodeOp(o: AnyOp): (string | number)[] {
  switch (o.op) {
    case 'reap':
      return ['o'];
    case 'fork':
      return ['f'];
    case 'exit':
      return ['x'];
    case 'unregister':
      return ['n'];
    case 'register':
      return ['g'];
    case 'clearRefs':
      return ['s'];
    case 'munmap':
      return ['u', o.page, o.pages];
    case 'dontneed':
      return ['d', o.page, o.pages];
    case 'lazyfree':
      return ['z', o.page, o.pages];
    case 'mprotect':
      return ['p', o.page, o.pages, o.writable ? 1 : 0];
    case 'reclaim':
      return ['r', o.page];
    case 'age':
      return ['y', o.page];
    case 'migrate':
      return ['m', o.page];
    case 'merge':
      return ['k', o.page, o.with];
    case 'writeback':
      return ['b', o.page];
    case 'scan':
      return ['h', o.page, o.pages];
    case 'punch':
      return ['e', o.page];
    case 'access':
      return [o.write ? 'w' : 'a', o.page];
  }
}

function decodeOp(o: (string | number)[]): unknown {
  switch (o[0]) {
    case 'o':
      return { op: 'reap' };
    case 'f':
      return { op: 'fork' };
    case 'x':
      return { op: 'exit' };
    case 'n':
      return { op: 'unregister' };
    case 'g':
      return { op: 'register' };
    case 's':
      return { op: 'clearRefs' };
    case 'u':
      return { op: 'munmap', page: o[1], pages: o[2] };
    case 'd':
      return { op: 'dontneed', page: o[1], pages: o[2] };
    case 'z':
      return { op: 'lazyfree', page: o[1], pages: o[2] };
    case 'p':
      return { op: 'mprotect', page: o[1], pages: o[2], writable: o[3] === 1 };
    case 'r':
      return { op: 'reclaim', page: o[1] };
    case 'y':
      return { op: 'age', page: o[1] };
    case 'k':
      return { op: 'merge', page: o[1], with: o[2] };
    case 'm':
      return { op: 'migrate', page: o[1] };
    case 'b':
      return { op: 'writeback', page: o[1] };
    case 'h':
      return { op: 'scan', page: o[1], pages: o[2] };
    case 'e':
      return { op: 'punch', page: o[1] };
    default:
      return { op: 'access', page: o[1], write: o[0] === 'w' };
  }
}

export function encodeToken(c: Case): string {
  const threads = c.scenario.threads.map((t): [string, (string | number)[][]] => [
    t.kind,
    t.ops.map((o) => encodeOp(o)),
  ]);
  const compact: Compact = [c.kernel, c.driver, threads, c.preemptions.flatMap((p) => [p.thread, p.after, p.to]), c.maxSteps];
  if (c.invariants !== undefined) compact.push(c.invariants.slice());
  if (c.scenario.thp) {
    if (c.invariants === undefined) compact.push(null);
    compact.push(c.scenario.thpOrder ?? 1);
  }
  if (c.scenario.file) {
    while (compact.length < 7) compact.push(null);
    compact.push(1);
  }
  if (c.scenario.dax) compact.push(1);
  const body = deflateRawSync(Buffer.from(JSON.stringify(compact)), { level: 9 });
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(body) >>> 0);
  return PREFIX + Buffer.concat([sum, body]).toString('base64url');
}

export function decodeToken(token: string): Case {
  const bad = (why: string): never => {
    throw new UsageError(`corrupt replay token: ${why}`);
  };
  if (typeof token !== 'string' || !token.startsWith(PREFIX)) bad(`expected a token starting with '${PREFIX}'`);
  const raw = Buffer.from(token.slice(PREFIX.length), 'base64url');
  if (raw.length < 6) bad('too short (truncated?)');
  const body = raw.subarray(4);
  if ((crc32(body) >>> 0) !== raw.readUInt32BE(0)) bad('checksum mismatch (truncated or altered?)');
  let compact: Compact;
  try {
    compact = JSON.parse(inflateRawSync(body).toString('utf8')) as Compact;
  } catch {
    return bad('cannot be decoded');
  }
  if (!Array.isArray(compact) || compact.length < 5 || compact.length > 9) bad('unexpected layout');
  const [kernel, driver, threads, flat, maxSteps, listed, hugeOrder, file, dax] = compact;
  if (dax !== undefined && dax !== 1) bad('bad dax flag');
  const thpOrder = hugeOrder ?? undefined;
  if (file !== undefined && file !== 1) bad('bad file flag');
  const invariants = listed ?? undefined;
  if (thpOrder !== undefined && !Number.isInteger(thpOrder)) bad('bad THP order');
  if (invariants !== undefined && !(Array.isArray(invariants) && invariants.every((x) => typeof x === 'string'))) bad('bad invariant list');
  if (typeof kernel !== 'string' || typeof driver !== 'string' || !Array.isArray(threads) || !Array.isArray(flat)) bad('unexpected layout');
  if (!Number.isInteger(maxSteps) || maxSteps < 1) bad('bad step budget');
  const scenario = validateScenario({
    threads: threads.map(([kind, ops]) => ({
      kind,
      ops: (ops ?? []).map((o) => decodeOp(o)),
    })),
    ...(thpOrder !== undefined ? { thp: true, thpOrder } : {}),
    ...(file === 1 ? { file: true } : {}),
    ...(dax === 1 ? { dax: true } : {}),
  });
  const preemptions = [];
  if (flat.length % 3 !== 0) bad('bad preemption list');
  for (let i = 0; i < flat.length; i += 3) {
    const [thread, after, to] = flat.slice(i, i + 3);
    const ok = (x: number) => Number.isInteger(x) && x >= 0 && x < scenario.threads.length;
    if (!ok(thread) || !ok(to) || !Number.isInteger(after) || after < 0) bad('bad preemption');
    preemptions.push({ thread, after, to });
  }
  return invariants === undefined ? { kernel, driver, scenario, preemptions, maxSteps } : { kernel, driver, scenario, preemptions, maxSteps, invariants };
}
