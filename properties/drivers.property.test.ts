/**
 * The driver catalogue of issue 4: every deliberately or historically broken variant is caught with a
 * counterexample of at most 3 preemptions, and its correct sibling passes at the same budget (the
 * matrix's). The expected verdicts come from the history table (src/matrix/history.ts), never from
 * here; this file only says which cell is whose sibling and which catalogue entry they reproduce.
 */
import { DEFAULT_BOUNDS } from '../src/scenario/arbitrary';
import { describe, expect, it } from 'vitest';
import { configuredRuns, configuredSeed } from '../src/check/budget';
import { MATRIX_DEFAULT_RUNS } from '../src/cli/matrix';
import { DRIVERS } from '../src/drivers';
import { HISTORY, type Expectation } from '../src/matrix/history';
import { runMatrix } from '../src/matrix/matrix';

const runs = configuredRuns(MATRIX_DEFAULT_RUNS);
const seed = configuredSeed();

interface Pair {
  /** Catalogue entry (reference §3) or kernel commit the broken cell reproduces. */
  readonly entry: string;
  /** `driver@kernel` of the broken cell and of its correct sibling. */
  readonly broken: string;
  readonly sibling: string;
}

const PAIRS: readonly Pair[] = [
  { entry: 'B2', broken: 'amdgpu-userptr@v4.12', sibling: 'amdgpu-userptr@v4.10' },
  { entry: 'B2', broken: 'xen-gntdev@v4.12', sibling: 'xen-gntdev@v4.10' },
  { entry: 'B2', broken: 'ib-umem-odp@v4.12', sibling: 'ib-umem-odp@v4.13' },
  // (sgi-gru@v4.13 is no sibling: its cell is uncertain since exit_mmap leaves its TLB, history.ts GRU_EXIT)
  { entry: 'B4', broken: 'kvm@aac2fea9', sibling: 'kvm@v4.13' },
  { entry: 'B4', broken: 'ib-umem-odp@aac2fea9', sibling: 'ib-umem-odp@v4.13' },
  { entry: 'B7', broken: 'kvm-no-retry@v4.13', sibling: 'kvm@v4.13' },
  { entry: 'B11', broken: 'amdgpu-userptr@v4.19', sibling: 'amdgpu-userptr-trylock@v4.19' },
  { entry: 'B11', broken: 'range-start-mutex@v4.19', sibling: 'range-start-trylock@v4.19' },
  { entry: 'B12', broken: 'kvm+ib-umem-odp@v4.19', sibling: 'kvm+ib-umem-odp@v4.15' },
  { entry: '4d4bbd8526a8', broken: 'kvm@v4.12', sibling: 'kvm@v4.13' },
  { entry: 'ODP missed unlock (Fixes: ca748c39ea3f)', broken: 'ib-umem-odp@v5.0', sibling: 'ib-umem-odp@v4.19' },
  { entry: 'B11', broken: 'amdgpu-userptr@v5.2', sibling: 'amdgpu-userptr-trylock@v4.19' },
  // the interval notifier (v5.5+) as the fix: the same driver, one era later
  { entry: 'f25a546e6529 (ODP on mmu_interval_notifier)', broken: 'ib-umem-odp@v5.2', sibling: 'ib-umem-odp@v5.5' },
  // (amdgpu-userptr@v5.5 is no sibling here: its cell is uncertain since the model finds a device
  // write lost after MADV_FREE, src/matrix/history.ts HMM_LOST_DIRTY)
];

function cell(id: string): Expectation {
  const [driver, kernel] = id.split('@');
  const e = HISTORY.find((h) => h.driver === driver && h.kernel === kernel);
  if (!e) throw new Error(`no history row for ${id}`);
  return e;
}

describe('broken variants are caught, their siblings pass', () => {
  const rows = [...new Set(PAIRS.flatMap((p) => [p.broken, p.sibling]))].map(cell);
  // exit_mmap left out: the pairs are about their catalogue entries, and two siblings' cells are
  // uncertain only through an exit finding (src/matrix/history.ts exitFinding)
  const cells = runMatrix({ runs, seed, history: rows, bounds: { ...DEFAULT_BOUNDS, exit: false } });
  const got = (id: string) => cells.find((c) => `${c.expectation.driver}@${c.expectation.kernel}` === id)!;

  it.each(PAIRS.map((p) => [p.entry, p.broken, p.sibling]))('%s: %s is caught, %s passes', (entry, broken, sibling) => {
    const b = cell(broken);
    const s = cell(sibling);
    // the history says so, with certainty, and cites the catalogue entry
    expect((b.certain || b.exitFinding === true) && (s.certain || s.exitFinding === true)).toBe(true);
    expect(b.expect).not.toBe('pass');
    expect(s.expect).toBe('pass');
    if (entry.startsWith('B')) expect(b.source).toMatch(new RegExp(`§3 ${entry}\\b`));
    // the model agrees
    const bc = got(broken);
    expect(b.expect.split('|')).toContain(bc.got);
    expect(bc.result.counterexample!.result.preemptions.length).toBeLessThanOrEqual(3);
    expect(got(sibling).got).toBe('pass');
  });
});

describe('the catalogue covers every era its drivers are written for', () => {
  const CATALOGUE = [
    'ib-umem-odp',
    'ib-umem-odp-rwsem-held',
    'amdgpu-userptr',
    'amdgpu-userptr-trylock',
    'hfi1-mmu-rb',
    'amd-iommu-v2',
    'intel-svm',
    'sgi-gru',
    'sgi-gru-count-only',
    'xen-gntdev',
    'scif',
    'powernv-npu',
    'page-pin',
    'nouveau-svm',
  ];
  it.each(CATALOGUE)('%s has a history row for each of its eras', (name) => {
    const eras = DRIVERS.filter((d) => d.name === name).flatMap((d) => d.eras);
    expect(eras.length).toBeGreaterThan(0);
    for (const kernel of eras) expect(HISTORY.some((h) => h.driver === name && h.kernel === kernel), `${name} on ${kernel}`).toBe(true);
  });

  it('a broken variant names the catalogue entry it reproduces in its title', () => {
    const titles = Object.fromEntries(DRIVERS.map((d) => [`${d.name}@${d.eras[0]}`, d.title]));
    expect(titles['amdgpu-userptr@v4.10']).toMatch(/\bB2\b/);
    expect(titles['xen-gntdev@v4.10']).toMatch(/\bB2\b/);
    expect(titles['ib-umem-odp@v4.10']).toMatch(/\bB2\b/);
    expect(titles['amdgpu-userptr@v4.19']).toMatch(/\bB11\b/);
    expect(titles['ib-umem-odp-rwsem-held@v5.0']).toMatch(/\bB14\b/);
    expect(titles['sgi-gru-count-only@v4.13']).toMatch(/\bB7\b/);
  });
});

describe('pin drivers never let the device reach a freed page', () => {
  // The certain cells are held to their history by the matrix test; the uncertain ones (a stale
  // mapping that no invariant checks yet) must still not be a use-after-free.
  const pinNames = new Set(DRIVERS.filter((d) => d.contract === 'pin').map((d) => d.name));
  const rows = HISTORY.filter((h) => !h.certain && pinNames.has(h.driver) && !h.driver.includes('+'));
  it('there are such cells', () => expect(rows.length).toBeGreaterThan(0));
  const cells = runMatrix({ runs, seed, history: rows });
  it.each(cells.map((c) => [c.expectation.driver, c.expectation.kernel, c.got]))('%s on %s: %s', (_d, _k, verdict) => {
    expect(verdict).not.toBe('no-secondary-maps-freed-page');
  });
});
