/**
 * The SVG swimlane view of a counterexample: time runs down, one lane per thread (the two-column
 * interleaving diagrams of the kernel's own comments, e.g. mmu_interval_read_begin()), each step a
 * box with its label and kernel source, and beside the lanes the PTE / spte / page state after every
 * step. Lock-held spans shade the lane of the holder (one colour per lock, a bar per lock in the
 * gutter), atomic context is a hatched strip, context switches are dashed rules, and the violating
 * step is red across the whole row. Every box has a `<title>`: hover for the full label, source,
 * state and locks.
 *
 * Pure: a string in, a string out; DOM hooks (`data-*`, classes) are stable for tests.
 */
import type { HeldLock, ReportStep, ReportTrace } from './trace';

const ROW = 34;
const HEAD = 8; // top margin of the body; the lane titles are a separate, sticky SVG
const TITLE_H = 46;
const STEP_W = 44;
const LANE_W = 330;
const GUTTER = 26;
/** Width of a memory column: pages say more (refcount, mapcount, swap cache, lock, dirty). */
const MEM_W = { pte: 178, spte: 178, page: 262 } as const;
const FONT_W = 6.65; // DejaVu Sans Mono / Menlo at 11px

const LOCK_COLOURS = ['#0969da', '#bc4c00', '#8250df', '#1a7f37', '#bf3989', '#0550ae', '#953800'];
const THREAD_COLOURS: Record<string, string> = { cpu: '#0969da', reclaim: '#8250df', oom: '#bf3989', device: '#1a7f37' };

/** Escapes text for XML and HTML (element content and attribute values). */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fit(s: string, width: number, fontW = FONT_W): string {
  const n = Math.floor(width / fontW);
  return s.length <= n ? s : s.slice(0, Math.max(1, n - 1)) + '…';
}

function threadColour(name: string): string {
  return THREAD_COLOURS[name.replace(/\d+$/, '')] ?? '#57606a';
}

/** A stable colour per lock name, in order of first appearance. */
function lockColours(t: ReportTrace): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of t.steps) for (const held of s.held) for (const l of held) if (!out.has(l.name)) out.set(l.name, LOCK_COLOURS[out.size % LOCK_COLOURS.length]);
  return out;
}

interface Span {
  readonly thread: number;
  readonly lock: HeldLock;
  readonly from: number;
  readonly to: number;
  readonly depth: number;
}

/** Rows during which each thread holds each lock: from the acquiring step to the releasing one. */
function lockSpans(t: ReportTrace): Span[] {
  const spans: Span[] = [];
  t.threads.forEach((_, th) => {
    const open = new Map<string, { from: number; lock: HeldLock; depth: number }>();
    const close = (name: string, to: number) => {
      const o = open.get(name)!;
      spans.push({ thread: th, lock: o.lock, from: o.from, to, depth: o.depth });
      open.delete(name);
    };
    t.steps.forEach((s, i) => {
      const now = s.held[th];
      for (const name of [...open.keys()]) if (!now.some((l) => l.name === name)) close(name, i);
      now.forEach((l, depth) => {
        if (!open.has(l.name)) open.set(l.name, { from: i, lock: l, depth });
      });
    });
    for (const name of [...open.keys()]) close(name, t.steps.length - 1);
  });
  return spans;
}

/** Runs of rows in which thread `th` is atomic. */
function atomicRuns(t: ReportTrace, th: number): [number, number][] {
  const runs: [number, number][] = [];
  let from = -1;
  t.steps.forEach((s, i) => {
    const atomic = s.atomic[th] > 0 || (i > 0 && t.steps[i - 1].atomic[th] > 0 && s.thread === th);
    if (atomic && from < 0) from = i;
    if (!atomic && from >= 0) {
      runs.push([from, i - 1]);
      from = -1;
    }
  });
  if (from >= 0) runs.push([from, t.steps.length - 1]);
  return runs;
}

/** x of memory column `i`, from the start of the memory panel. */
function columnX(t: ReportTrace, i: number): number {
  let x = 0;
  for (let j = 0; j < i; j++) x += MEM_W[t.columns[j].kind];
  return x;
}

function laneX(th: number): number {
  return STEP_W + th * LANE_W;
}

function rowY(i: number): number {
  return HEAD + i * ROW;
}

function header(t: ReportTrace, memX: number, width: number): string {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="swimlane-head" width="${width}" height="${TITLE_H}" viewBox="0 0 ${width} ${TITLE_H}">`,
    `<rect class="head" x="0" y="0" width="${width}" height="${TITLE_H}"/>`,
    `<text class="colhead" x="${STEP_W - 8}" y="${TITLE_H - 14}" text-anchor="end">step</text>`,
  ];
  t.threads.forEach((name, th) => {
    const x = laneX(th);
    out.push(`<g class="lane-head" data-thread="${esc(name)}"><rect x="${x + 4}" y="8" width="${LANE_W - 8}" height="28" rx="6" fill="${threadColour(name)}"/>`);
    out.push(`<text class="lane-title" x="${x + LANE_W / 2}" y="27" text-anchor="middle">${esc(name)}</text></g>`);
  });
  t.columns.forEach((c, i) => {
    const x = memX + columnX(t, i);
    out.push(`<text class="colhead mem-head mem-${c.kind}" x="${x + 8}" y="${TITLE_H - 14}"><title>${esc(c.title)}</title>${esc(fit(c.title, MEM_W[c.kind] - 12, 6.2))}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}

function lanesBackground(t: ReportTrace, height: number): string {
  return t.threads
    .map((name, th) => `<rect class="lane ${th % 2 ? 'odd' : 'even'}" data-lane="${esc(name)}" x="${laneX(th)}" y="0" width="${LANE_W}" height="${height}"/>`)
    .join('');
}

function spansSvg(t: ReportTrace, colours: Map<string, string>): string {
  const out: string[] = [];
  for (const s of lockSpans(t)) {
    const colour = colours.get(s.lock.name)!;
    const x = laneX(s.thread);
    const y = rowY(s.from) + 2;
    const h = (s.to - s.from + 1) * ROW - 4;
    const title = `${t.threads[s.thread]} holds ${s.lock.name} (${s.lock.kind}) from step ${t.steps[s.from].step} to step ${t.steps[s.to].step}`;
    out.push(`<g class="lock-span" data-lock="${esc(s.lock.name)}" data-thread="${esc(t.threads[s.thread])}"><title>${esc(title)}</title>`);
    out.push(`<rect class="lock-shade" x="${x + GUTTER}" y="${y}" width="${LANE_W - GUTTER - 10}" height="${h}" fill="${colour}"/>`);
    out.push(`<rect class="lock-bar" x="${x + 5 + s.depth * 7}" y="${y}" width="5" height="${h}" rx="2" fill="${colour}"/></g>`);
  }
  t.threads.forEach((name, th) => {
    for (const [from, to] of atomicRuns(t, th)) {
      const x = laneX(th) + LANE_W - 9;
      out.push(`<rect class="atomic" data-thread="${esc(name)}" x="${x}" y="${rowY(from) + 2}" width="6" height="${(to - from + 1) * ROW - 4}"><title>${esc(`${name} in atomic context (spinlock held or interrupts off): steps ${t.steps[from].step}–${t.steps[to].step}`)}</title></rect>`);
    }
  });
  return out.join('');
}

function stepTitle(t: ReportTrace, s: ReportStep): string {
  const locks = s.held[s.thread].map((l) => l.name);
  return [
    `step ${s.step} · ${t.threads[s.thread]}`,
    s.label,
    `source: ${s.source}`,
    s.state ? `state: ${s.state}` : '',
    locks.length ? `holds: ${locks.join(', ')}` : '',
    s.atomic[s.thread] > 0 ? 'atomic context' : '',
  ]
    .filter(Boolean)
    .join('\n');
}

function stepSvg(t: ReportTrace, s: ReportStep, i: number, colours: Map<string, string>): string {
  const x = laneX(s.thread) + GUTTER;
  const y = rowY(i) + 4;
  const w = LANE_W - GUTTER - 14;
  const cls = ['step', s.note ? 'note' : 'effect', s.violating ? 'violating' : ''].filter(Boolean).join(' ');
  const acquired = s.held[s.thread].find((l) => !(i > 0 && t.steps[i - 1].held[s.thread].some((p) => p.name === l.name)));
  const edge = acquired ? ` style="stroke:${colours.get(acquired.name)}"` : '';
  return (
    `<g class="${cls}" data-step="${s.step}" data-thread="${esc(t.threads[s.thread])}"><title>${esc(stepTitle(t, s))}</title>` +
    `<rect class="box" x="${x}" y="${y}" width="${w}" height="${ROW - 8}" rx="4"${edge}/>` +
    `<text class="label" x="${x + 7}" y="${y + 12}">${esc(fit(s.label, w - 12))}</text>` +
    `<text class="source" x="${x + 7}" y="${y + 23}">${esc(fit(s.source, w - 12, 5.5))}</text></g>`
  );
}

function memorySvg(t: ReportTrace, memX: number): string {
  const out: string[] = [];
  t.steps.forEach((s, i) => {
    t.columns.forEach((c, j) => {
      const cell = s.memory[c.key];
      if (!cell) return;
      const changed = i > 0 && t.steps[i - 1].memory[c.key]?.text !== cell.text;
      const cls = ['mem', `mem-${c.kind}`, changed ? 'changed' : '', cell.bad ? 'bad' : cell.stale ? 'stale' : ''].filter(Boolean).join(' ');
      const x = memX + columnX(t, j);
      const w = MEM_W[c.kind];
      const y = rowY(i) + 4;
      out.push(
        `<g class="${cls}" data-col="${esc(c.key)}" data-step="${s.step}"><title>${esc(`${c.title} after step ${s.step}: ${cell.text}`)}</title>` +
          `<rect x="${x + 2}" y="${y}" width="${w - 4}" height="${ROW - 8}" rx="3"/>` +
          `<text x="${x + 8}" y="${y + 17}">${esc(fit(cell.text, w - 14, 6.2))}</text></g>`,
      );
    });
  });
  return out.join('');
}

function rowsSvg(t: ReportTrace, width: number): string {
  const out: string[] = [];
  t.steps.forEach((s, i) => {
    const y = rowY(i);
    out.push(`<g class="row${s.violating ? ' violating-row' : ''}" data-row="${s.step}"><rect class="row-bg" x="0" y="${y}" width="${width}" height="${ROW}"/>`);
    out.push(`<text class="stepno" x="${STEP_W - 8}" y="${y + 21}" text-anchor="end">${s.violating ? '✖ ' : ''}${s.step}</text></g>`);
    if (s.preempted && i > 0) {
      const from = t.threads[t.steps[i - 1].thread];
      out.push(`<g class="switch" data-step="${s.step}"><title>${esc(`context switch: ${from} is preempted, ${t.threads[s.thread]} runs`)}</title>`);
      out.push(`<line x1="${STEP_W}" y1="${y}" x2="${STEP_W + t.threads.length * LANE_W}" y2="${y}"/>`);
      out.push(`<text x="${laneX(s.thread) + LANE_W - 14}" y="${y - 3}" text-anchor="end">⇄ ${esc(from)} preempted</text></g>`);
    }
  });
  return out.join('');
}

/**
 * The swimlane view of a trace: two SVGs, the lane and column titles (which the page keeps in
 * view while the steps scroll) and the steps themselves. Styles are the page's (see html.ts).
 */
export function swimlaneSvg(t: ReportTrace): string {
  const colours = lockColours(t);
  const memX = STEP_W + t.threads.length * LANE_W + 12;
  const memW = columnX(t, t.columns.length);
  const width = memX + memW + 8;
  const height = rowY(t.steps.length) + 12;
  return [
    `<div class="sticky">${header(t, memX, width)}</div>`,
    `<svg xmlns="http://www.w3.org/2000/svg" class="swimlane" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="swimlane view of the counterexample">`,
    `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="3" height="6" fill="#d4a72c"/></pattern></defs>`,
    lanesBackground(t, height),
    rowsSvg(t, width),
    spansSvg(t, colours),
    `<rect class="mem-panel" x="${memX - 4}" y="0" width="${memW + 8}" height="${height}"/>`,
    t.steps.map((s, i) => stepSvg(t, s, i, colours)).join(''),
    memorySvg(t, memX),
    '</svg>',
  ].join('\n');
}

/** The legend's lock colours, for the page around the SVG. */
export function lockLegend(t: ReportTrace): { name: string; colour: string; kind: string }[] {
  const kinds = new Map<string, string>();
  for (const s of t.steps) for (const held of s.held) for (const l of held) kinds.set(l.name, l.kind);
  return [...lockColours(t)].map(([name, colour]) => ({ name, colour, kind: kinds.get(name) ?? '' }));
}
