import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './in-process';


describe('mmu-race check', () => {
  it('--json on kvm-no-retry exits 1 with the invariant, a short trace and a replay token', () => {
    const r = cli('check', '--kernel', 'v4.13', '--driver', 'kvm-no-retry', '--json', '--no-report');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ verdict: 'violation', kernel: 'v4.13', driver: 'kvm-no-retry' });
    expect(j.executions).toBeGreaterThan(0);
    expect(j.violation.invariant).toBe('no-secondary-maps-freed-page');
    expect(j.violation.contextSwitches).toBeLessThanOrEqual(3);
    expect(j.violation.steps).toBe(j.violation.trace.length);
    for (const s of j.violation.trace) {
      expect(typeof s.thread).toBe('string');
      expect(s.label.length).toBeGreaterThan(0);
      expect(s.source).toMatch(/ v4\.13| model/);
    }
    expect(j.violation.trace.filter((s: { violating?: boolean }) => s.violating)).toHaveLength(1);
    expect(j.violation.replay).toMatch(/^mr1\./);
  });

  it('on kvm exits 0 and says what was covered', () => {
    const r = cli('check', '--kernel', 'v4.13', '--driver', 'kvm', '--runs', '2000', '--no-report');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/no race found: \d+ executions/);
    expect(r.out).toContain('invariants: no-secondary-maps-freed-page, no-sleep-in-atomic');
  });

  it('prints a timeline with one column per thread, the violating step marked, and the replay line', () => {
    const r = cli('check', '--driver', 'kvm-no-retry', '--no-report');
    expect(r.code).toBe(1);
    // one column per thread of the minimal scenario (which threads depends on what the search found first)
    expect(r.out).toMatch(/^ +step( +(cpu|reclaim|device|migrate|ksmd|oom)){2,} +state after the step/m);
    expect(r.out).toMatch(/^>> +\d+ /m);
    expect(r.out).toMatch(/PTE 0x100000/);
    expect(r.out).toMatch(/^replay: mmu-race replay mr1\.\S+$/m);
  });

  it('gives identical output for the same seed', () => {
    const a = cli('check', '--driver', 'kvm-no-retry', '--seed', '12345', '--no-report');
    const b = cli('check', '--driver', 'kvm-no-retry', '--seed', '12345', '--no-report');
    expect(a.out).toBe(b.out);
  });
});

describe('mmu-race replay', () => {
  it('reproduces the counterexample of check, byte for byte', () => {
    const j = JSON.parse(cli('check', '--driver', 'kvm-no-retry', '--json', '--no-report').out);
    const r = cli('replay', j.violation.replay, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).violation).toEqual(j.violation);
    const text = cli('check', '--driver', 'kvm-no-retry', '--no-report').out;
    const replayed = cli('replay', j.violation.replay).out;
    const timeline = (s: string) => s.slice(s.indexOf('scenario:'));
    expect(timeline(replayed)).toBe(timeline(text));
  });
});

describe('bad input exits 2 with a message naming the problem', () => {
  it.each([
    [['check', '--driver', 'nope'], /unknown driver 'nope'/],
    [['check', '--kernel', 'v9.99'], /unknown kernel era 'v9.99'/],
    [['check', '--frobnicate'], /frobnicate/],
    [['check', '--runs', 'many'], /--runs must be an integer/],
    [['check', '--runs', '0'], /--runs must be at least 1/],
    [['replay', 'mr1.AAAA'], /corrupt replay token/],
    [['replay', 'not-a-token'], /corrupt replay token/],
    [['replay'], /exactly one token/],
    [['launch'], /unknown command 'launch'/],
  ])('%j', (argv, message) => {
    const r = cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });
});

describe('the installed bin', () => {
  it('runs the built CLI (npx mmu-race) and exits with its status', () => {
    const bin = join(__dirname, '..', '..', 'bin', 'mmu-race.js');
    const ok = spawnSync(process.execPath, [bin, 'check', '--driver', 'kvm', '--runs', '500'], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const bad = spawnSync(process.execPath, [bin, 'check', '--driver', 'kvm-no-retry', '--json'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).violation.invariant).toBe('no-secondary-maps-freed-page');
    const usage = spawnSync(process.execPath, [bin, 'check', '--driver', 'nope'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/unknown driver 'nope'/);
  });
});

describe('check --also', () => {
  it('draws the operations the default leaves out (unregister, a file VMA with writeback), and rejects others', () => {
    const r = cli('check', '--driver', 'kvm', '--kernel', 'v4.13', '--also', 'unregister,file', '--runs', '1500', '--json', '--no-report');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.coverage['device:unregister']).toBeGreaterThan(0);
    expect(j.coverage['writeback:writeback']).toBeGreaterThan(0);
    const plain = JSON.parse(cli('check', '--driver', 'kvm', '--kernel', 'v4.13', '--runs', '1500', '--json', '--no-report').out);
    expect(plain.coverage['device:unregister']).toBeUndefined();
    expect(plain.coverage['writeback:writeback']).toBeUndefined();
    const bad = cli('check', '--driver', 'kvm', '--also', 'numa');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--also takes unregister, file, dax, aging (comma-separated), got 'numa'");
  });
});
