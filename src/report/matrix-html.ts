/**
 * `mmu-race matrix --html FILE`: the verdict matrix as one self-contained page (inline CSS, no
 * script, no network), written from the same `MatrixCell[]` as the text table. One row per driver,
 * one column per era; each cell is coloured by its outcome (pass, or the invariant violated), striped
 * when history is uncertain, outlined in red when it differs from history; the expected verdict and
 * its source are on hover (`title`), and a violation's replay line opens on click (`<details>`) and
 * is listed again under the table.
 */
import { ERAS } from '../eras';
import type { MatrixCell } from '../matrix/matrix';
import { esc } from './swimlane';

/** Background of each outcome (a verdict name); any other name gets the neutral one. */
export const OUTCOME_COLOURS: Readonly<Record<string, string>> = Object.freeze({
  pass: '#dafbe1',
  'no-secondary-maps-freed-page': '#ffcecb',
  'secondary-follows-primary': '#ffd8b5',
  'no-sleep-in-atomic': '#fff1a8',
  'start-end-paired': '#e5d4ff',
  deadlock: '#c9dbff',
  'no-deadlock': '#c9dbff',
  'no-lock-held-at-exit': '#c7ece9',
  progress: '#f8d3ea',
  'full-range-invalidated': '#f1e2c4',
  'step-budget-exceeded': '#e6e9ed',
  'model-error': '#d0d7de',
});
const NEUTRAL = '#eaeef2';

/** The CSS class of an outcome: `v-` and the verdict name (names are `[a-z-]`). */
export function outcomeClass(verdict: string): string {
  return `v-${verdict.replace(/[^a-z0-9-]/gi, '_')}`;
}

/** `mmu-race replay TOKEN` for a cell with a counterexample. */
export function replayLine(c: MatrixCell): string | undefined {
  return c.result.counterexample ? `mmu-race replay ${c.result.counterexample.token}` : undefined;
}

function cellId(c: MatrixCell): string {
  return `r-${c.expectation.driver}-${c.expectation.kernel}`.replace(/[^A-Za-z0-9_.+-]/g, '_');
}

/** What hovering a cell says: the verdict, what history expects and why, and the replay line. */
function cellTitle(c: MatrixCell): string {
  const e = c.expectation;
  const lines = [
    `${e.driver} on ${e.kernel}: ${c.got}`,
    `history: ${e.expect}${e.certain ? '' : ' (uncertain: not held to it)'}${c.matches ? '' : ' — DIFFERS'}`,
    `source: ${e.source}`,
    `${c.result.executions} executions`,
  ];
  const v = c.result.verdict;
  if (v.kind !== 'pass') lines.push(`message: ${v.message}`);
  const replay = replayLine(c);
  if (replay) lines.push(replay);
  return lines.join('\n');
}

function renderCell(c: MatrixCell | undefined): string {
  if (!c) return '<td class="none">–</td>';
  const classes = ['cell', outcomeClass(c.got), c.expectation.certain ? 'certain' : 'uncertain', c.matches ? 'matches' : 'mismatch'];
  const marks = `${c.matches ? '' : '<span class="mark">≠</span>'}${c.expectation.certain ? '' : '<span class="mark">?</span>'}`;
  const attrs = `class="${classes.join(' ')}" data-driver="${esc(c.expectation.driver)}" data-kernel="${esc(c.expectation.kernel)}" data-verdict="${esc(c.got)}" data-expected="${esc(c.expectation.expect)}" title="${esc(cellTitle(c))}"`;
  const replay = replayLine(c);
  const body = replay
    ? `<details><summary>${esc(c.got)}${marks}</summary><code class="replay">${esc(replay)}</code></details>`
    : `<span>${esc(c.got)}</span>${marks}`;
  const expected = c.matches ? '' : `<div class="expected">history: ${esc(c.expectation.expect)}</div>`;
  return `<td id="${cellId(c)}" ${attrs}>${body}${expected}</td>`;
}

const CSS = `
body { margin: 20px 28px; font: 13px/1.4 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1f2328; background: #f6f8fa; }
h1 { font-size: 19px; margin: 0 0 4px; } .sub { color: #656d76; margin: 0 0 12px; }
.bad { color: #cf222e; font-weight: 600; } .good { color: #1a7f37; font-weight: 600; }
table.matrix { border-collapse: separate; border-spacing: 3px; background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 6px; }
th { font-weight: 600; text-align: left; padding: 4px 8px; white-space: nowrap; } th.era { text-align: center; }
td { position: relative; padding: 4px 8px; border-radius: 4px; min-width: 90px; vertical-align: top; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 11.5px; }
td.none { color: #afb8c1; text-align: center; }
td.cell { border: 1px solid rgba(31,35,40,.15); cursor: default; }
td.uncertain { background-image: repeating-linear-gradient(135deg, rgba(255,255,255,.55) 0 4px, transparent 4px 8px); border-style: dashed; }
td.mismatch { outline: 3px solid #cf222e; outline-offset: -1px; }
.mark { margin-left: 4px; font-weight: 700; color: #57606a; } td.mismatch .mark:first-of-type { color: #cf222e; }
details summary { cursor: pointer; }
.expected { color: #cf222e; font-size: 10.5px; margin-top: 2px; }
code.replay { position: absolute; z-index: 5; left: 0; top: 100%; width: 440px; overflow-wrap: anywhere; font-size: 10.5px; background: #fff; border: 1px solid #8c959f; border-radius: 4px; padding: 4px 6px; box-shadow: 0 4px 12px rgba(31,35,40,.2); user-select: all; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 12px 0; font-size: 12px; }
.legend span.key { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -3px; margin-right: 5px; border: 1px solid rgba(31,35,40,.2); }
.legend .k-uncertain { background: repeating-linear-gradient(135deg, #d0d7de 0 3px, transparent 3px 6px); border-style: dashed; }
.legend .k-mismatch { outline: 3px solid #cf222e; outline-offset: -1px; }
ol.replays { font-size: 11.5px; } ol.replays code { overflow-wrap: anywhere; }
`;

function outcomeCss(verdicts: readonly string[]): string {
  return verdicts.map((v) => `td.${outcomeClass(v)}, .legend .${outcomeClass(v)} { background-color: ${OUTCOME_COLOURS[v] ?? NEUTRAL}; }`).join('\n');
}

/** Eras in the order of ERAS (oldest first); any era ERAS does not know comes last, as met. */
function orderedKernels(cells: readonly MatrixCell[]): string[] {
  const seen = [...new Set(cells.map((c) => c.expectation.kernel))];
  const rank = (k: string) => {
    const i = ERAS.findIndex((e) => e.name === k);
    return i < 0 ? ERAS.length + seen.indexOf(k) : i;
  };
  return seen.sort((a, b) => rank(a) - rank(b));
}

export interface MatrixHtmlOptions {
  readonly runs: number;
  readonly seed: number;
}

/** The page: heading, legend, the matrix, the replay lines and the cells that differ from history. */
export function renderMatrixHtml(cells: readonly MatrixCell[], opts: MatrixHtmlOptions): string {
  const kernels = orderedKernels(cells);
  const drivers = [...new Set(cells.map((c) => c.expectation.driver))];
  const at = (d: string, k: string) => cells.find((c) => c.expectation.driver === d && c.expectation.kernel === k);
  const verdicts = [...new Set(['pass', ...Object.keys(OUTCOME_COLOURS), ...cells.map((c) => c.got)])];
  const mismatches = cells.filter((c) => !c.matches);
  const head = `<tr><th>driver</th>${kernels.map((k) => `<th class="era">${esc(k)}</th>`).join('')}</tr>`;
  const rows = drivers.map((d) => `<tr><th class="driver">${esc(d)}</th>${kernels.map((k) => renderCell(at(d, k))).join('')}</tr>`);
  // the legend lists the outcomes shown, in OUTCOME_COLOURS order (pass first, unknown names last)
  const known = Object.keys(OUTCOME_COLOURS);
  const order = (v: string) => (known.includes(v) ? known.indexOf(v) : known.length);
  const shown = [...new Set(cells.map((c) => c.got))].sort((a, b) => order(a) - order(b));
  const legend = [
    ...shown.map((v) => `<span><span class="key ${outcomeClass(v)}"></span>${esc(v)}</span>`),
    '<span><span class="key k-uncertain"></span>? history uncertain (not held to it)</span>',
    '<span><span class="key k-mismatch"></span>≠ differs from history</span>',
  ];
  const replays = cells.filter((c) => c.result.counterexample).map((c) => `<li><a href="#${cellId(c)}">${esc(c.expectation.driver)} on ${esc(c.expectation.kernel)}</a>: <code>${esc(replayLine(c)!)}</code></li>`);
  const differ = mismatches.map((c) => `<li>${esc(c.expectation.driver)} on ${esc(c.expectation.kernel)}: got <b>${esc(c.got)}</b>, history says <b>${esc(c.expectation.expect)}</b> (${esc(c.expectation.source)})</li>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mmu-race verdict matrix</title>
<style>${CSS}
${outcomeCss(verdicts)}
</style>
</head>
<body>
<h1>mmu-race verdict matrix</h1>
<p class="sub">${opts.runs} runs per cell, seed ${opts.seed}; ${cells.length} cells, ${mismatches.length === 0 ? '<span class="good">all match history</span>' : `<span class="bad">${mismatches.length} differ from history</span>`}. Hover a cell for what history expects and why; click a violation for its replay line.</p>
<div class="legend">${legend.join('')}</div>
<table class="matrix">
<thead>${head}</thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${differ.length ? `<h2>Differs from history</h2>\n<ul class="differ">${differ.join('\n')}</ul>` : ''}
${replays.length ? `<h2>Replay</h2>\n<ol class="replays">${replays.join('\n')}</ol>` : ''}
</body>
</html>
`;
}
