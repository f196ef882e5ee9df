import { describe, expect, it } from 'vitest';
import { runCase } from '../../src/check/case';
import { UsageError } from '../../src/runtime/errors';
import { CATALOGUE, catalogueEntry } from '../../src/scenario/catalogue';
import { validateScenario } from '../../src/scenario/scenario';

describe('the scenario catalogue', () => {
  it('has unique names, the spine scenarios, and valid scenarios only', () => {
    const names = CATALOGUE.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['fault-vs-munmap', 'fault-vs-reclaim', 'cow-vs-device']));
    for (const e of CATALOGUE) expect(validateScenario(JSON.parse(JSON.stringify(e.scenario)))).toEqual(e.scenario);
  });

  it('runs every scenario to a pass with kvm under the default order', () => {
    for (const e of CATALOGUE) expect(runCase({ kernel: 'v4.13', driver: 'kvm', scenario: e.scenario, preemptions: [], maxSteps: 2000 }).verdict).toEqual({ kind: 'pass' });
  });

  it('names an unknown scenario in a usage error', () => {
    expect(() => catalogueEntry('fault-vs-reclaim-thp')).toThrow(UsageError);
    expect(() => catalogueEntry('fault-vs-reclaim-thp')).toThrow(/catalogue: fault-vs-munmap/);
  });
});
