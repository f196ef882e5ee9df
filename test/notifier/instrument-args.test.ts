import { describe, expect, it } from 'vitest';
import { check } from '../../src/check/fuzz';
import { hmmMirror } from '../../src/drivers/hmm-mirror';
import { invalidatePageMutex } from '../../src/drivers/invalidate-page-mutex';
import { DRIVER_INVARIANTS } from '../../src/invariants';
import { instrumentNotifier } from '../../src/notifier/instrument';

/**
 * A user's module runs through instrumentNotifier, which freezes callback arguments: ranges are
 * frozen copies, but numeric arguments (invalidate_page's address, an interval subscription and its
 * cur_seq) must reach the callback unchanged.
 */
describe('instrumented notifiers get their numeric arguments unchanged', () => {
  it('an interval-notifier module (sub, cur_seq) checks as the built-in does', () => {
    const r = check({ kernel: 'v5.5', driver: hmmMirror.name, notifier: instrumentNotifier(hmmMirror), runs: 2000, seed: 3, invariants: DRIVER_INVARIANTS });
    expect(r.verdict).toEqual({ kind: 'pass' });
  });
  it('an invalidate_page module (address) checks as the built-in does', () => {
    const r = check({ kernel: 'v4.12', driver: invalidatePageMutex.name, notifier: instrumentNotifier(invalidatePageMutex), runs: 2000, seed: 3, invariants: DRIVER_INVARIANTS });
    expect(r.verdict).toMatchObject({ kind: 'violation', invariant: 'no-sleep-in-atomic' });
  });
});
