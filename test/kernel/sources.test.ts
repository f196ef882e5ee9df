import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCase } from '../../src/check/case';
import { DRIVERS } from '../../src/drivers';
import { Op } from '../../src/runtime/effect';
import { describeEffect } from '../../src/report/label';
import { scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';

/**
 * Walks the call sites of every era with every driver written for it (random scenarios and
 * schedules) and checks that each modelled step names its source: file, function and version.
 */
describe('every modelled step names its source', () => {
  for (const d of DRIVERS) {
    for (const kernel of d.eras) {
      it(`${d.name} on ${kernel}: file, function and version on every step of 150 executions`, () => {
        const seen = new Set<Op>();
        const unsourced: string[] = [];
        fc.assert(
          fc.property(scenarioArbitrary(), scheduleArbitrary(), (scenario, preemptions) => {
            const r = runCase({ kernel, driver: d.name, scenario, preemptions, maxSteps: 2000 });
            for (const s of r.trace) {
              seen.add(s.effect.op);
              const at = s.effect.at;
              if (!at.file || !at.fn || !at.version || describeEffect(r.machine, s.effect).length === 0) unsourced.push(`${at.file} ${at.fn} ${at.version}`);
            }
          }),
          { numRuns: 150, seed: 1 },
        );
        expect(unsourced).toEqual([]);
        // the walk reached the core paths: locks, PTE updates, page frees, notifier calls, device accesses
        for (const op of [Op.SpinLock, Op.PteSet, Op.PteClear, Op.PutPage, Op.DeviceAccess, Op.Notify]) expect(seen.has(op)).toBe(true);
      });
    }
  }
});
