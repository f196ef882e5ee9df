import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCase } from '../../src/check/case';
import { DRIVERS } from '../../src/drivers';
import { Op } from '../../src/runtime/effect';
import { describeEffect } from '../../src/report/label';
import { scenarioArbitrary, scheduleArbitrary } from '../../src/scenario/arbitrary';

describe('every modelled step names its source', () => {
  for (const d of DRIVERS) {
    for (const kernel of d.eras) {
      it(`${d.name} on ${kernel}: file, function and version on every step of 300 executions`, () => {
        const seen = new Set<Op>();
        fc.assert(
          fc.property(scenarioArbitrary(), scheduleArbitrary(), (scenario, preemptions) => {
            const r = runCase({ kernel, driver: d.name, scenario, preemptions, maxSteps: 2000 });
            for (const s of r.trace) {
              seen.add(s.effect.op);
              expect(s.effect.at.file.length).toBeGreaterThan(0);
              expect(s.effect.at.fn.length).toBeGreaterThan(0);
              expect(s.effect.at.version.length).toBeGreaterThan(0);
              expect(describeEffect(r.machine, s.effect).length).toBeGreaterThan(0);
            }
          }),
          { numRuns: 300, seed: 1 },
        );
        // the walk reached the core paths: locks, PTE updates, page frees, secondary updates
        const core = [Op.SpinLock, Op.PteSet, Op.PteClear, Op.PutPage, Op.DeviceAccess, Op.Notify];
        for (const op of d.name === 'observer' ? core : [...core, Op.SpteSet]) expect(seen.has(op)).toBe(true);
      });
    }
  }
});
