/**
 * A driver registering while the mm is live (issue #3's "deferred interval-tree insert/remove";
 * issue #4's "MR registration for ODP" in its v5.5+ form): a device thread's `register` inserts the
 * driver's interval subscriptions with mmu_interval_notifier_insert (mm/mmu_notifier.c v5.7).
 *
 * While an invalidation of the tree is in flight the new subscription is put on the deferred list
 * with the odd invalidate_seq, so that the driver's mmu_interval_read_begin waits for the last
 * inv_end: the callbacks of that invalidation ran before the subscription existed, and nothing else
 * would stop the device from mapping the page the invalidation is about to free.
 */
import { describe, expect, it } from 'vitest';
import { runCase, type Case } from '../../src/check/case';
import { explore } from '../../src/check/explore';
import { describeEffect } from '../../src/report/label';
import type { Scenario } from '../../src/scenario/scenario';
import { decodeToken, encodeToken } from '../../src/schedule/token';

// munmap holds mmap_sem for write across its bracket and the device's hmm_range_fault takes it for
// read, so the race is with reclaim, whose bracket holds only the page lock and the anon_vma rwsem
const SCENARIO: Scenario = {
  threads: [
    { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
    { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
    { kind: 'device', ops: [{ op: 'register' }, { op: 'access', page: 0, write: false }] },
  ],
};

function labels(c: Case): string[] {
  const r = runCase(c);
  return r.trace.map((s) => describeEffect(r.machine, s.effect));
}

describe.sequential('register while running: mmu_interval_notifier_insert and the deferred list', () => {
  for (const kernel of ['v5.5', 'v6.6']) {
    it(`${kernel}: registering inside reclaim's invalidation defers the insert, and read_begin waits for its end`, () => {
      // A second mirror (`hmm-mirror+hmm-mirror`: e.g. a second MR of one process) is in the tree
      // already, so has_itree is set and the insert does not need mmap_sem (the first insert's
      // mmu_notifier_register(NULL) takes it for write, which excludes munmap altogether). The CPU
      // faults the page in, reclaim starts, and is preempted at each of its steps in turn; the device
      // registers and faults there.
      let deferred = 0;
      let waited = 0;
      for (let after = 1; after < 120; after++) {
        const c: Case = { kernel, driver: 'hmm-mirror+hmm-mirror', scenario: SCENARIO, preemptions: [{ thread: 1, after, to: 2 }], maxSteps: 2000 };
        const r = runCase(c);
        expect(r.verdict.kind).toBe('pass');
        const text = r.trace.map((s) => describeEffect(r.machine, s.effect)).join('\n');
        const wasDeferred = /on deferred_list = 1/.test(text);
        if (wasDeferred) {
          deferred++;
          if (/wait_event\(subscriptions->wq/.test(text)) waited++;
        }
      }
      expect(deferred).toBeGreaterThan(0);
      expect(waited).toBe(deferred);
    });

    it(`${kernel}: hmm-mirror passes every schedule within 2 preemptions of register vs reclaim; without read_retry it is caught`, () => {
      // with a second mirror already in the tree on v5.5 only (the same insert code in v6.8; it is the slow one)
      for (const second of kernel === 'v5.5' ? ['', '+hmm-mirror'] : ['']) {
        const ok = explore({ kernel, driver: `hmm-mirror${second}`, scenario: SCENARIO, maxPreemptions: 2 });
        expect(ok.verdict.kind).toBe('pass');
        expect(ok.complete).toBe(true);
        const broken = explore({ kernel, driver: `hmm-mirror-no-retry${second}`, scenario: SCENARIO, maxPreemptions: 2 });
        expect(broken.verdict.kind).toBe('violation');
      }
    });
  }

  it('before the register the subscription is not called; after it, it is (v5.5)', () => {
    // reclaim first, then register: the invalidation finds no tree (has_itree false: no ->invalidate);
    // register then inserts with invalidate_seq - 1
    const c: Case = { kernel: 'v5.5', driver: 'hmm-mirror', scenario: SCENARIO, preemptions: [], maxSteps: 2000 };
    const text = labels(c).join('\n');
    expect(text).not.toContain('->invalidate(');
    expect(text).toContain('has_itree');
    // and registered first, the munmap calls ->invalidate
    const first: Case = { ...c, scenario: { threads: [SCENARIO.threads[2], SCENARIO.threads[0], SCENARIO.threads[1]] } };
    expect(labels(first).join('\n')).toContain('->invalidate(');
  });

  it('the operation round-trips through a replay token, and must come first in its thread', () => {
    const c: Case = { kernel: 'v5.5', driver: 'hmm-mirror', scenario: SCENARIO, preemptions: [{ thread: 0, after: 3, to: 2 }], maxSteps: 2000 };
    expect(decodeToken(encodeToken(c))).toEqual(c);
    expect(() => decodeToken(encodeToken({ ...c, scenario: { threads: [{ kind: 'device', ops: [{ op: 'access', page: 0, write: false }, { op: 'register' }] }] } }))).toThrow(/register must be the first operation/);
  });
});

/**
 * The hlist form: mmu_notifier_register while the mm is live (KVM's kvm_init_mmu_notifier, ODP's
 * first MR). mm_take_all_locks excludes every bracket in flight (reclaim and migration hold the
 * anon_vma rwsem across theirs, the syscalls mmap_sem), so a notifier never sees an end without its
 * start, nor misses an invalidation once registered.
 */
describe('register while running: mmu_notifier_register', () => {
  const KVM_REGISTERS: Scenario = {
    threads: [
      { kind: 'cpu', ops: [{ op: 'access', page: 0, write: true }] },
      { kind: 'reclaim', ops: [{ op: 'reclaim', page: 0 }] },
      { kind: 'device', ops: [{ op: 'register' }, { op: 'access', page: 0, write: true }] },
    ],
  };
  for (const kernel of ['v4.13', 'v6.6']) {
    it(`${kernel}: kvm registering beside reclaim passes every schedule within 2 preemptions; kvm-no-retry is caught`, () => {
      const ok = explore({ kernel, driver: 'kvm', scenario: KVM_REGISTERS, maxPreemptions: 2 });
      expect(ok.verdict.kind).toBe('pass');
      expect(ok.complete).toBe(true);
      expect(explore({ kernel, driver: 'kvm-no-retry', scenario: KVM_REGISTERS, maxPreemptions: 2 }).verdict.kind).toBe('violation');
    });
  }

  it('before it registers, kvm hears of nothing; the register step takes mmap_sem and the anon_vma lock for write', () => {
    const c: Case = { kernel: 'v4.13', driver: 'kvm', scenario: KVM_REGISTERS, preemptions: [], maxSteps: 2000 };
    const text = labels(c);
    const reg = text.findIndex((l) => l.startsWith('mmu_notifier_register('));
    expect(reg).toBeGreaterThan(0);
    expect(text.slice(0, reg).some((l) => l.includes('-> kvm'))).toBe(false);
    expect(text.slice(reg, reg + 4)).toEqual(expect.arrayContaining(['down_write(mmap_sem)', 'down_write(anon_vma->rwsem)']));
  });
});
