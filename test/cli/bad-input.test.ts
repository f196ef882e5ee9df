/**
 * Every bad input of issue 5 is a clear error naming the problem, exit status 2, never a stack trace
 * or a hang. Each case runs the installed CLI (bin/mmu-race.js over dist/) as a user would, on a
 * small fixture module under test/fixtures/.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'mmu-race.js');

interface Ran {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
  readonly ms: number;
}

function mmuRace(...argv: string[]): Promise<Ran> {
  const t = Date.now();
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...argv], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } }, (err, out, errText) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      done({ code: typeof code === 'number' ? code : null, out, err: errText, ms: Date.now() - t });
    });
  });
}

const fixture = (name: string) => `test/fixtures/${name}.ts`;
const QUICK = ['--runs', '300', '--no-report'];

/** No stack trace and no internal-error banner, whatever went wrong. */
function expectClean(r: Ran): void {
  expect(r.err).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.err).not.toMatch(/internal error/);
  expect(r.out).not.toMatch(/^\s+at .+\.js:\d+:\d+\)?$/m);
}

describe.concurrent('a user module that cannot be checked exits 2 with a message naming the problem', () => {
  it('file not found', async () => {
    const r = await mmuRace('check', fixture('does-not-exist'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/notifier module not found: test\/fixtures\/does-not-exist\.ts/);
    expectClean(r);
  });

  it('TypeScript syntax error, with file:line:col', async () => {
    const r = await mmuRace('check', fixture('syntax-error'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/does not compile \(TypeScript syntax error/);
    expect(r.err).toMatch(/test\/fixtures\/syntax-error\.ts:\d+:\d+ - error TS\d+/);
    expectClean(r);
  });

  it('TypeScript type error, with file:line:col', async () => {
    const r = await mmuRace('check', fixture('type-error'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/does not compile \(TypeScript type error/);
    expect(r.err).toMatch(/test\/fixtures\/type-error\.ts:15:\d+ - error TS2554: Expected 5 arguments, but got 3/);
    expectClean(r);
  });

  it('no default export', async () => {
    const r = await mmuRace('check', fixture('no-export'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no-export\.ts has no default export and no export named 'notifier' \(it exports helper, other\)/);
    expectClean(r);
  });

  it('wrong shape (a misspelled property, no device)', async () => {
    const r = await mmuRace('check', fixture('wrong-shape'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown property 'opps' in the notifier definition \(did you mean ops\?\)/);
    expectClean(r);
  });

  it('a callback that is not a generator function (its effects would never happen)', async () => {
    const r = await mmuRace('check', fixture('not-generator'), ...QUICK, '--transpile-only');
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^MODEL-ERROR$/m);
    expect(r.out).toMatch(/ops\.invalidateRangeStart is not a generator function and returned undefined, not a generator: write it as `\*invalidateRangeStart\(k, s, …\) \{ … \}`/);
    expectClean(r);
  });

  it('an async callback', async () => {
    const r = await mmuRace('check', fixture('async-callback'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/device\.fault is async; callbacks must be synchronous generator functions/);
    expectClean(r);
  });

  it('a callback that throws: a model-error naming the callback, the step and the source line', async () => {
    const r = await mmuRace('check', fixture('throws'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^MODEL-ERROR$/m);
    expect(r.out).toMatch(/device\.fault threw Error: gpu ring buffer is full \(at \S*test\/fixtures\/throws\.ts:16:\d+\)/);
    expect(r.out).toMatch(/^  in device, after step \d+ \(while its code computed the next step\)$/m);
    expect(r.out).toMatch(/^replay: mmu-race replay mr1\.\S+ --module test\/fixtures\/throws\.ts$/m);
    expectClean(r);
  });

  it('a callback that loops forever without yielding: stopped by the time budget, named', async () => {
    const r = await mmuRace('check', fixture('loops'), ...QUICK, '--timeout', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ops\.invalidateRangeStart of 'fixture-loops' ran for more than 1 s without yielding an effect, and was stopped/);
    expect(r.ms).toBeLessThan(30_000);
    expectClean(r);
  });

  it('a callback that mutates the state setup() returned (outside an effect)', async () => {
    const r = await mmuRace('check', fixture('mutates'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/ops\.invalidateRangeStart mutates shared state outside an effect: Cannot assign to read only property 'seq'/);
    expect(r.out).toMatch(/mutates\.ts:19:\d+/);
    expectClean(r);
  });

  it('a callback that keeps state in a module-level variable (caught as nondeterminism)', async () => {
    const r = await mmuRace('check', fixture('module-state'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/the notifier is not deterministic: the same case .* run twice in a row differs at step \d+/);
    expectClean(r);
  });

  it('declares an era mmu-race does not model', async () => {
    const r = await mmuRace('check', fixture('unknown-era'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/declares era 'v2\.6', which mmu-race does not model \(known eras: .*v4\.13/);
    expectClean(r);
  });

  it('implements a callback its era does not have (invalidate_page on v4.13)', async () => {
    const r = await mmuRace('check', fixture('wrong-callback'), ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ops\.invalidatePage is not a callback of struct mmu_notifier_ops in kernel v4\.13/);
    expectClean(r);
  });

  it('--kernel an era the module does not declare', async () => {
    const r = await mmuRace('check', fixture('minimal'), '--kernel', 'v4.10', ...QUICK);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/driver 'fixture-minimal' is not written for kernel v4\.10 \(it declares v4\.13\)/);
    expectClean(r);
  });
});

describe.concurrent('bad flags, eras, drivers and tokens exit 2', () => {
  it.each([
    [['check', fixture('minimal'), '--frobnicate'], /Unknown option '--frobnicate'/],
    [['check', fixture('minimal'), '--kernel', 'v9.99'], /unknown kernel era 'v9\.99'/],
    [['check', '--driver', 'nope'], /unknown driver 'nope'/],
    [['check', fixture('minimal'), '--driver', 'kvm'], /give a notifier module or --driver, not both/],
    [['check', fixture('minimal'), fixture('throws')], /check takes one notifier module, got 2/],
    [['check', fixture('minimal'), '--mode', 'bfs'], /--mode must be 'fuzz' or 'exhaustive', got 'bfs'/],
    [['check', fixture('minimal'), '--timeout', 'soon'], /--timeout must be a positive number of seconds, got 'soon'/],
    [['replay', 'mr1.AAAA'], /corrupt replay token/],
    [['replay', 'not-a-token'], /corrupt replay token/],
  ])('%j', async (argv, message) => {
    const r = await mmuRace(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expectClean(r);
  });

  it('a truncated token, a token of a user notifier without --module, and --module of another notifier', async () => {
    const found = await mmuRace('check', fixture('throws'), ...QUICK, '--json');
    const token = JSON.parse(found.out).violation.replay as string;
    const truncated = await mmuRace('replay', token.slice(0, -6));
    expect(truncated.code).toBe(2);
    expect(truncated.err).toMatch(/corrupt replay token: (checksum mismatch|too short|cannot be decoded)/);
    const noModule = await mmuRace('replay', token);
    expect(noModule.code).toBe(2);
    expect(noModule.err).toMatch(/the token is for driver 'fixture-throws', which is not built in: pass the module it came from with --module FILE/);
    const other = await mmuRace('replay', token, '--module', fixture('minimal'));
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/the token is for driver 'fixture-throws', but the module defines 'fixture-minimal'/);
    for (const r of [truncated, noModule, other]) expectClean(r);
  });
});
