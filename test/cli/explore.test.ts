import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from './in-process';
import { decodeToken } from '../../src/schedule/token';


describe('mmu-race explore', () => {
  it('reports a complete pass within its bounds for kvm, with counts', () => {
    const r = cli('explore', '--kernel', 'v4.13', '--driver', 'kvm', '--scenario', 'fault-vs-munmap');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/explored \d+ executions \(bounds 0\.\.2\); pruned \d+ as redundant/);
    expect(r.out).toContain('complete within bounds: every schedule with at most 2 preemptions was explored; no race found');
    expect(r.out).toMatch(/\d+ ms/);
  });

  it('reports the violation of kvm-no-retry with its timeline and replay line', () => {
    const r = cli('explore', '--driver', 'kvm-no-retry', '--scenario', 'fault-vs-munmap');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/found with 1 preemption/);
    expect(r.out).toMatch(/VIOLATION (no-secondary-maps-freed-page|secondary-follows-primary)/);
    expect(r.out).toMatch(/^>> +\d+ /m);
    const line = r.out.split('\n').find((l) => l.startsWith('replay: mmu-race replay '))!;
    expect(decodeToken(line.split(' ')[3]).driver).toBe('kvm-no-retry');
  });

  it('--json gives the counts, the bounds and the violation', () => {
    const j = JSON.parse(cli('explore', '--driver', 'kvm-no-retry', '--scenario', 'fault-vs-reclaim', '--json').out);
    expect(j).toMatchObject({ verdict: 'violation', kernel: 'v4.13', driver: 'kvm-no-retry', complete: false });
    expect(j.scenarios[0]).toMatchObject({ scenario: 'fault-vs-reclaim', verdict: 'violation', bounds: { maxPreemptions: 2 } });
    expect(['no-secondary-maps-freed-page', 'secondary-follows-primary']).toContain(j.scenarios[0].violation.invariant);
    expect(j.scenarios[0].foundAtBound).toBeLessThanOrEqual(2);
    expect(j.scenarios[0].violation.replay).toMatch(/^mr1\./);
    const pass = JSON.parse(cli('explore', '--driver', 'kvm', '--scenario', 'cow-vs-device', '--max-preemptions', '1', '--json').out);
    expect(pass).toMatchObject({ verdict: 'pass', complete: true, scenarios: [{ complete: true, bounds: { maxPreemptions: 1 } }] });
  });

  it('says when a bound cut the search, and does not claim completeness', () => {
    const r = cli('explore', '--driver', 'kvm', '--scenario', 'fault-vs-reclaim', '--max-executions', '20');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/INCOMPLETE: .*execution budget ran out/);
    expect(r.out).not.toContain('complete within bounds');
  });

  it('reads a scenario file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmu-race-'));
    const file = join(dir, 'scenario.json');
    writeFileSync(file, JSON.stringify({ threads: [{ kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] }, { kind: 'device', ops: [{ op: 'access', page: 0, write: true }] }] }));
    const r = cli('explore', '--driver', 'kvm', '--scenario', file, '--max-preemptions', '1');
    expect(r.code).toBe(0);
    expect(r.out).toContain('scenario (from file): cpu: write(0) | device: write(0)');
  });

  it.each([
    [['explore', '--scenario', 'no-such'], /neither a catalogue scenario .* nor a file/],
    [['explore', '--max-preemptions=-1'], /--max-preemptions must be at least 0/],
    [['explore', '--max-steps', 'many'], /--max-steps must be an integer/],
    [['explore', '--driver', 'nope'], /unknown driver 'nope'/],
    [['explore', '--frobnicate'], /frobnicate/],
  ])('%j exits 2', (argv, message) => {
    const r = cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('rejects a malformed scenario file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmu-race-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"threads": [{"kind": "gpu", "ops": []}]}');
    expect(cli('explore', '--scenario', bad).err).toMatch(/invalid scenario: unknown thread kind 'gpu'/);
    writeFileSync(bad, 'not json');
    expect(cli('explore', '--scenario', bad).code).toBe(2);
  });
});
