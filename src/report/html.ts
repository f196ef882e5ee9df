/**
 * `index.html`: a finding as one self-contained page (inline CSS and a few lines of inline script,
 * no network, no CDN): the verdict and the kernel rule it breaks, the swimlane view with the state
 * beside every step, a legend, the replay line, and the text timeline to paste into a mail.
 */
import { replayCommand, type Finding } from './finding';
import { esc, lockLegend, swimlaneSvg } from './swimlane';
import { sizeText } from './text';
import { renderTimeline } from './timeline';

const CSS = `
:root { color-scheme: light; --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bad:#cf222e; --bad-bg:#ffebe9; --ok:#1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; height: 100vh; display: flex; flex-direction: column; font: 14px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg); background: #f6f8fa; }
header { padding: 14px 28px 10px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0 0 4px; }
h1 .verdict { color: var(--bad); }
h1 .verdict.pass { color: var(--ok); }
.sub { color: var(--muted); margin: 0; }
main { padding: 14px 28px 10px; flex: 1; min-height: 0; display: flex; flex-direction: column; }
.cards { display: grid; grid-template-columns: minmax(320px, 1.2fr) minmax(320px, 1fr); gap: 14px; margin-bottom: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.card h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 6px; }
.what { border-left: 4px solid var(--bad); }
.what p.message { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; margin: 4px 0 8px; }
blockquote { margin: 6px 0 0; padding: 6px 12px; border-left: 3px solid var(--line); color: #3d444d; background: #f6f8fa; font-size: 13px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 0; font-size: 13px; }
dt { color: var(--muted); }
dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; word-break: break-all; }
.replay { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
.replay code { flex: 1; font-size: 12px; background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; overflow-x: auto; white-space: nowrap; }
button { font: inherit; font-size: 12px; padding: 5px 10px; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; cursor: pointer; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; font-size: 12px; color: #3d444d; margin: 4px 0 10px; }
.legend span.key { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -3px; margin-right: 5px; }
.legend .k-atomic { background: repeating-linear-gradient(45deg, #d4a72c 0 3px, transparent 3px 6px); border: 1px solid #d4a72c; }
.legend .k-viol { background: var(--bad-bg); border: 2px solid var(--bad); }
.legend .k-changed { background: #fff8c5; border: 1px solid #d4a72c; }
.legend .k-bad { background: var(--bad); }
.legend .k-stale { background: #ffe2bf; border: 1px solid #bc4c00; }
.legend .k-note { border: 1px dashed #8c959f; background: transparent; }
.legend .k-switch { border-top: 2px dashed #8c959f; border-radius: 0; height: 0; width: 18px; }
.view { background: #fff; border: 1px solid var(--line); border-radius: 8px; overflow: auto; flex: 1 1 auto; min-height: 320px; }
.view .sticky { position: sticky; top: 0; z-index: 2; width: max-content; }
svg.swimlane-head { display: block; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; border-bottom: 1px solid var(--line); }
svg.swimlane { display: block; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
svg .head { fill: #fff; }
svg .lane.even { fill: #fbfcfd; } svg .lane.odd { fill: #f3f5f8; }
svg .lane-title { fill: #fff; font: 600 13px -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; letter-spacing: .03em; }
svg .colhead { fill: var(--muted); font-size: 11px; font-weight: 600; }
svg .mem-panel { fill: #fcfcfd; stroke: var(--line); }
svg .row-bg { fill: transparent; }
svg .row:hover .row-bg { fill: rgba(9,105,218,.07); }
svg .violating-row .row-bg { fill: rgba(207,34,46,.10); }
svg .stepno { fill: #8c959f; font-size: 11px; }
svg .violating-row .stepno { fill: var(--bad); font-weight: 700; }
svg .lock-shade { opacity: .09; }
svg .lock-bar { opacity: .85; }
svg .atomic { fill: url(#hatch); stroke: #d4a72c; stroke-width: .6; }
svg .step .box { fill: #fff; stroke: #afb8c1; stroke-width: 1; }
svg .step.note .box { fill: transparent; stroke: #afb8c1; stroke-dasharray: 3 3; }
svg .step .label { font-size: 11px; fill: var(--fg); }
svg .step.note .label { fill: #57606a; font-style: italic; }
svg .step .source { font-size: 9.2px; fill: #8c959f; }
svg .step:hover .box { stroke: #0969da; stroke-width: 2; }
svg .step.violating .box { fill: var(--bad-bg); stroke: var(--bad); stroke-width: 2.5; }
svg .step.violating .label { fill: var(--bad); font-weight: 700; }
svg .switch line { stroke: #8c959f; stroke-width: 1.2; stroke-dasharray: 6 4; }
svg .switch text { fill: #57606a; font-size: 10px; font-family: -apple-system, "DejaVu Sans", sans-serif; }
svg .mem rect { fill: transparent; }
svg .mem text { font-size: 10.5px; fill: #8c959f; }
svg .mem.changed rect { fill: #fff8c5; stroke: #e3c35a; stroke-width: .8; }
svg .mem.changed text { fill: var(--fg); font-weight: 600; }
svg .mem.stale rect { fill: #ffe2bf; stroke: #bc4c00; stroke-width: .8; }
svg .mem.stale text { fill: #953800; font-weight: 600; }
svg .mem.bad rect { fill: var(--bad); stroke: var(--bad); }
svg .mem.bad text { fill: #fff; font-weight: 700; }
details { margin-top: 10px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; }
details pre { font-size: 11.5px; overflow-x: auto; }
footer { color: var(--muted); font-size: 12px; margin-top: 6px; }
details[open] pre { max-height: 40vh; overflow: auto; }
`;

const SCRIPT = `
document.getElementById('copy').addEventListener('click', function () {
  var text = document.getElementById('replay').textContent;
  if (navigator.clipboard) navigator.clipboard.writeText(text);
  this.textContent = 'copied';
});
// Open on the race: scroll the swimlane so that the violating step sits in the lower third.
window.addEventListener('load', function () {
  var v = document.querySelector('.step.violating'), view = document.querySelector('.view');
  if (!v || !view) return;
  var top = v.getBoundingClientRect().top - view.getBoundingClientRect().top + view.scrollTop - view.clientHeight * 0.7;
  if (top > 0) view.scrollTop = top;
});
`;

function verdictHead(f: Finding): string {
  const v = f.verdict;
  if (v.kind === 'pass') return '<span class="verdict pass">no violation</span>';
  if (v.kind === 'violation') return `<span class="verdict">VIOLATION ${esc(v.invariant)}</span>`;
  return `<span class="verdict">${esc(v.kind.toUpperCase())}</span>`;
}

function legend(f: Finding): string {
  const locks = lockLegend(f.trace)
    .map((l) => `<span data-legend-lock="${esc(l.name)}"><span class="key" style="background:${l.colour}"></span>${esc(l.name)} held (${esc(l.kind)})</span>`)
    .join('');
  return (
    `<div class="legend">${locks}` +
    '<span><span class="key k-atomic"></span>atomic context</span>' +
    '<span><span class="key k-note"></span>call / decision (no shared state)</span>' +
    '<span><span class="key k-switch"></span>context switch</span>' +
    '<span><span class="key k-viol"></span>violating step</span>' +
    '<span><span class="key k-changed"></span>state changed by the step</span>' +
    '<span><span class="key k-stale"></span>spte ≠ PTE</span>' +
    '<span><span class="key k-bad"></span>spte maps a freed page</span></div>'
  );
}

/** The whole page. */
export function reportHtml(f: Finding): string {
  const v = f.verdict;
  const message = v.kind === 'pass' ? 'This execution passes every invariant.' : v.message;
  const rule = f.invariant ? `<blockquote><b>${esc(f.invariant.name)}</b> — ${esc(f.invariant.title)}<br>${esc(f.invariant.rule)}</blockquote>` : '';
  const found = f.search ? `<dt>found after</dt><dd>${f.search.executions} executions (seed ${f.search.seed}, ${f.search.runs} runs)</dd>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`${f.driver} on ${f.kernel}: ${v.kind === 'violation' ? v.invariant : v.kind}`)} — mmu-race</title>
<style>${CSS}</style></head>
<body data-verdict="${esc(v.kind)}">
<header><h1>${esc(f.driver)} on ${esc(f.kernel)}: ${verdictHead(f)}</h1>
<p class="sub">${esc(f.title)} · contract <b>${esc(f.contract)}</b></p></header>
<main>
<div class="cards">
<section class="card what"><h2>What went wrong</h2><p class="message" id="message">${esc(message)}</p>${rule}</section>
<section class="card"><h2>Counterexample</h2><dl>
<dt>scenario</dt><dd>${esc(f.scenario)}</dd>
<dt>size</dt><dd>${esc(sizeText(f.timeline, f.case))}</dd>${found}
${f.module ? `<dt>module</dt><dd>${esc(f.module)}</dd>` : ''}
</dl>
<div class="replay"><code id="replay">${esc(replayCommand(f))}</code><button id="copy" type="button">copy</button></div></section>
</div>
${legend(f)}
<div class="view">${swimlaneSvg(f.trace)}</div>
<details><summary>Text timeline</summary><pre>${esc(renderTimeline(f.timeline, f.case))}</pre></details>
<footer>Generated by mmu-race. Every step names the kernel source it models; hover a box for its full label, source, state and locks. report.json has the same trace as data; report.md as text.</footer>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
