/**
 * `mmu-race matrix --html FILE`: the page is written from the same cells as the text table, one
 * `<td>` per cell with its outcome, certainty and agreement with history as classes, the expected
 * verdict and its source in `title`, the replay line of every violation, and nothing fetched.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configuredRuns, configuredSeed } from '../../src/check/budget';
import { run, type Io } from '../../src/cli/main';
import { MATRIX_DEFAULT_RUNS } from '../../src/cli/matrix';
import { HISTORY } from '../../src/matrix/history';
import { runMatrix, type MatrixCell } from '../../src/matrix/matrix';
import { OUTCOME_COLOURS, outcomeClass, renderMatrixHtml } from '../../src/report/matrix-html';
import { esc } from '../../src/report/swimlane';
import { decodeToken } from '../../src/schedule/token';

// the matrix's budget, at which the property test holds every certain cell to its history
const runs = configuredRuns(MATRIX_DEFAULT_RUNS);
const seed = configuredSeed();
// a pass, a certain violation and an uncertain cell, on two eras
const cells = runMatrix({ runs, seed, drivers: ['kvm', 'kvm-no-retry', 'intel-svm'], eras: ['v4.19', 'v4.13'] });
// and a cell whose history is (deliberately) wrong, so that it differs
const wrong = runMatrix({ runs: 200, seed, history: [{ ...HISTORY.find((h) => h.driver === 'kvm' && h.kernel === 'v5.5')!, expect: 'no-sleep-in-atomic' }] });
const all: MatrixCell[] = [...cells, ...wrong];
const html = renderMatrixHtml(all, { runs, seed });

/** The attributes of the `<td>` of driver × kernel, or undefined. */
function td(driver: string, kernel: string): { cls: string[]; title: string; inner: string } | undefined {
  const re = new RegExp(`<td id="[^"]*" class="([^"]*)" data-driver="${driver}" data-kernel="${kernel}"[^>]* title="([^"]*)">(.*?)</td>`, 's');
  const m = re.exec(html);
  return m ? { cls: m[1].split(' '), title: m[2], inner: m[3] } : undefined;
}

describe('renderMatrixHtml', () => {
  it('the cells are what the matrix asked for: a pass, a violation, an uncertain one and a mismatch', () => {
    const got = Object.fromEntries(all.map((c) => [`${c.expectation.driver}@${c.expectation.kernel}`, c]));
    expect(got['kvm@v4.13'].got).toBe('pass');
    expect(got['kvm-no-retry@v4.13'].result.counterexample).toBeDefined();
    expect(got['intel-svm@v4.13'].expectation.certain).toBe(false);
    expect(got['kvm@v5.5'].matches).toBe(false);
  });

  it('is one self-contained page: inline CSS, no script, nothing from the network', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(|@import|https?:\/\//i);
  });

  it('has one row per driver and one column per era, eras oldest first', () => {
    expect(html.match(/<th class="driver">/g)).toHaveLength(new Set(all.map((c) => c.expectation.driver)).size);
    const eras = [...html.matchAll(/<th class="era">([^<]*)<\/th>/g)].map((m) => m[1]);
    expect(eras).toEqual(['v4.13', 'v4.19', 'v5.5']);
    expect(html.match(/<td id=/g)).toHaveLength(all.length);
    // kvm-no-retry has no v5.5 cell here: an empty one stands for it
    expect(html.match(/<td class="none">/g)!.length).toBe(3 * 3 - all.length);
  });

  it.each(all.map((c) => [c.expectation.driver, c.expectation.kernel, c] as const))('%s on %s: classes, title and replay line', (driver, kernel, c) => {
    const cell = td(driver, kernel)!;
    expect(cell).toBeDefined();
    expect(cell.cls).toContain(outcomeClass(c.got));
    expect(cell.cls).toContain(c.expectation.certain ? 'certain' : 'uncertain');
    expect(cell.cls).toContain(c.matches ? 'matches' : 'mismatch');
    expect(cell.title).toContain(`history: ${esc(c.expectation.expect)}`);
    expect(cell.title).toContain(esc(c.expectation.source));
    const token = c.result.counterexample?.token;
    if (token) {
      expect(cell.inner).toMatch(/^<details><summary>/);
      expect(cell.inner).toContain(`<code class="replay">mmu-race replay ${token}</code>`);
      expect(cell.title).toContain(`mmu-race replay ${token}`);
      expect(decodeToken(token)).toMatchObject({ kernel, driver });
    } else {
      expect(cell.inner).not.toContain('mmu-race replay');
    }
    if (!c.matches) expect(cell.inner).toContain(`history: ${esc(c.expectation.expect)}`);
  });

  it('colours every outcome shown, and the colours differ between outcomes', () => {
    for (const c of all) expect(html).toMatch(new RegExp(`td\\.${outcomeClass(c.got)}[^{]*\\{ background-color: #[0-9a-f]{6}; \\}`));
    const pass = OUTCOME_COLOURS.pass;
    expect(new Set(Object.values(OUTCOME_COLOURS)).size).toBeGreaterThan(8);
    expect(OUTCOME_COLOURS['no-secondary-maps-freed-page']).not.toBe(pass);
    expect(html).toMatch(/td\.uncertain \{[^}]*repeating-linear-gradient/);
    expect(html).toMatch(/td\.mismatch \{[^}]*outline: 3px solid/);
  });

  it('lists the replay lines and the cells that differ from history under the table', () => {
    for (const c of all.filter((x) => x.result.counterexample)) expect(html).toContain(`<code>mmu-race replay ${c.result.counterexample!.token}</code>`);
    expect(html).toContain('1 differ from history');
    expect(html).toMatch(/<ul class="differ"><li>kvm on v5\.5: got <b>pass<\/b>, history says <b>no-sleep-in-atomic<\/b>/);
  });

  it('escapes what it is given', () => {
    const c = all[0];
    const evil = renderMatrixHtml([{ ...c, expectation: { ...c.expectation, source: '<b onmouseover="x">&' } }], { runs: 1, seed: 1 });
    expect(evil).not.toContain('<b onmouseover');
    expect(evil).toContain('&lt;b onmouseover=&quot;x&quot;&gt;&amp;');
  });
});

describe('mmu-race matrix --html FILE', () => {
  function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t) };
    return { code: run(argv, io), out: out.join('\n'), err: err.join('\n') };
  }

  it('writes the page beside the text table, with the same verdicts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmu-race-matrix-html-'));
    try {
      const file = join(dir, 'matrix.html');
      const r = cli('matrix', '--drivers', 'kvm,kvm-no-retry', '--eras', 'v4.13', '--runs', String(runs), '--seed', String(seed), '--html', file);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/kvm-no-retry\s+no-secondary-maps-freed-page/);
      expect(r.err).toContain(`wrote ${file}`);
      const page = readFileSync(file, 'utf8');
      expect(page).toMatch(/class="cell v-pass certain matches" data-driver="kvm" data-kernel="v4\.13"/);
      expect(page).toMatch(/class="cell v-no-secondary-maps-freed-page certain matches" data-driver="kvm-no-retry" data-kernel="v4\.13"/);
      const token = /kvm-no-retry on v4\.13: mmu-race replay (\S+)/.exec(r.out)![1];
      expect(page).toContain(`mmu-race replay ${token}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says so when the file cannot be written', () => {
    const r = cli('matrix', '--drivers', 'kvm', '--eras', 'v4.13', '--runs', '10', '--html', join(tmpdir(), 'no-such-dir-mmu-race', 'x', 'm.html'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--html: cannot write/);
  });
});
