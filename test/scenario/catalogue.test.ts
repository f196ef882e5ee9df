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
    expect(() => catalogueEntry('fault-vs-migration-thp')).toThrow(UsageError);
    expect(() => catalogueEntry('fault-vs-migration-thp')).toThrow(/catalogue: fault-vs-munmap/);
  });

  it('has fault-vs-reclaim-thp: a THP the reclaim walk unmaps through several subpage PTEs', () => {
    const e = catalogueEntry('fault-vs-reclaim-thp');
    expect(e.scenario.thp).toBe(true);
    const r = runCase({ kernel: 'v4.13', driver: 'observer', scenario: e.scenario, preemptions: [], maxSteps: 2000 });
    expect(r.verdict).toEqual({ kind: 'pass' });
    const labels = r.trace.map((s) => s.effect.text ?? '');
    expect(labels.some((l) => l.startsWith('set_pmd_at('))).toBe(true);
    expect(labels.some((l) => l.startsWith('__split_huge_pmd_locked('))).toBe(true);
    // freeze_page's walk in try_to_unmap_one: one ->invalidate_range per subpage PTE, three of them
    const perPte = r.trace.filter((s) => s.effect.at.fn === 'try_to_unmap_one' && /^mmu_notifier_invalidate_range\(/.test(s.effect.text ?? ''));
    expect(perPte.length).toBeGreaterThanOrEqual(3);
  });
});
