import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { UsageError } from '../../src/runtime/errors';
import { decodeToken, encodeToken } from '../../src/schedule/token';

const race: Case = {
  kernel: 'v4.13',
  driver: 'kvm-no-retry',
  scenario: {
    threads: [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
      { kind: 'device', ops: [{ op: 'access', page: 0, write: false }] },
    ],
  },
  preemptions: [{ thread: 0, after: 9, to: 1 }],
  maxSteps: 2000,
};

function traceOf(c: Case) {
  const r = runCase(c);
  return JSON.stringify({ verdict: r.verdict, trace: r.trace.map((s) => [s.thread, s.effect, s.result]) });
}

describe('replay tokens', () => {
  it('round-trip a case exactly', () => {
    expect(decodeToken(encodeToken(race))).toEqual(race);
  });

  it('reproduce the identical trace', () => {
    const r = runCase(race);
    expect(r.verdict.kind).toBe('violation');
    expect(traceOf(decodeToken(encodeToken(race)))).toBe(traceOf(race));
  });

  it('are short', () => {
    expect(encodeToken(race).length).toBeLessThan(120);
  });

  it.each([
    ['empty', ''],
    ['wrong prefix', 'xx1.abcdef'],
    ['truncated', encodeToken(race).slice(0, -5)],
    ['altered', encodeToken(race).replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'))],
    ['garbage body', 'mr1.' + Buffer.from('\0\0\0\0hello').toString('base64url')],
  ])('reject a %s token with a UsageError', (_, token) => {
    expect(() => decodeToken(token)).toThrow(UsageError);
    expect(() => decodeToken(token)).toThrow(/corrupt replay token/);
  });
});
