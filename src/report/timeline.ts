/**
 * The text timeline of an execution: one column per thread, in the manner of the two-column
 * interleaving diagrams in the kernel's own comments. Each step shows its label in its thread's
 * column, its source on the line below, and the state it touched (PTE, spte, page refcount and
 * generation, lock or counter) beside it; the violating step is marked `>>`.
 */
import { runCase, type Case, type ResolvedTarget } from '../check/case';
import { Op, type Effect } from '../runtime/effect';
import type { TraceStep } from '../runtime/execution';
import { addressOf, hex, pageTableEntry, type Machine } from '../runtime/machine';
import { formatSite } from '../runtime/site';
import type { Verdict } from '../runtime/verdict';
import { scenarioText } from '../scenario/scenario';
import { describeEffect, describeResult } from './label';

export interface TimelineRow {
  readonly step: number;
  readonly thread: number;
  readonly label: string;
  readonly source: string;
  readonly state: string;
  readonly violating: boolean;
  readonly preempted: boolean;
}

export interface Timeline {
  readonly threads: readonly string[];
  readonly rows: readonly TimelineRow[];
  readonly verdict: Verdict;
}

function pageState(m: Machine, pfn: number): string {
  const p = m.pages[pfn];
  if (!p) return '';
  if (pfn === 0) return 'pfn 0 = zero page';
  return p.free ? `pfn ${pfn} FREE (next g${p.generation})` : `pfn ${pfn}/g${p.generation} ref ${p.refcount} map ${p.mapcount}${p.swapCache ? ' swapcache' : ''}${p.lockedBy >= 0 ? ' locked' : ''}${p.dirty ? ' dirty' : ''}`;
}

function vpnState(m: Machine, vpn: number): string {
  const pte = pageTableEntry(m, vpn); // a PTE, or the view of a huge PMD's subpage
  const huge = pte?.huge ? ' (huge PMD)' : '';
  const parts = [`PTE ${hex(addressOf(vpn))}: ${pte ? (pte.swap ? `${pte.migration ? 'migration' : 'swap'}(pfn ${pte.pfn})${huge}` : `pfn ${pte.pfn}/g${pte.generation} ${pte.protnone ? 'prot_none' : pte.writable ? 'rw' : 'ro'}${huge}`) : 'none'}`];
  for (const t of m.tables) {
    const s = t.entries[vpn];
    parts.push(`${t.name}: ${s ? `pfn ${s.pfn}/g${s.generation}${s.writable ? ' rw' : ' ro'}` : 'none'}`);
  }
  const pfn = pte && !pte.swap ? pte.pfn : m.tables.map((t) => t.entries[vpn]).find((s) => s)?.pfn;
  if (pfn !== undefined) parts.push(pageState(m, pfn));
  return parts.join(' | ');
}

/** The state that step `e` touched, read after it ran. */
export function stateAfter(m: Machine, e: Effect): string {
  switch (e.op) {
    case Op.PteRead:
    case Op.PteTouch:
    case Op.PteSet:
    case Op.PteClear:
    case Op.VmaLookup:
      return vpnState(m, e.a);
    case Op.SpteRead:
    case Op.SpteSet:
    case Op.DeviceAccess:
      return vpnState(m, e.b);
    case Op.SpteClearRange:
      return e.c - e.b === 1 ? vpnState(m, e.b) : `${m.tables[e.a].name}: ${m.tables[e.a].entries.filter((x) => x).length} entries`;
    case Op.GetPage:
    case Op.DupMapping:
    case Op.PageMapcount:
    case Op.GetPageUnlessZero:
    case Op.PutPage:
    case Op.SetPageDirty:
    case Op.PageRefFreeze:
    case Op.LockPage:
    case Op.TrylockPage:
    case Op.UnlockPage:
    case Op.SwapCacheAdd:
    case Op.Writeback:
      return pageState(m, e.a);
    case Op.Read:
    case Op.Write:
    case Op.Add:
      return `${m.counterNames[e.a]} = ${m.counters[e.a]}`;
    default:
      return '';
  }
}

/**
 * Re-runs a case with state observation on and returns its timeline. `target` is the era and
 * notifier to run (default: the built-in driver the case names; a user's notifier must be given).
 */
export function timelineOf(c: Case, target?: ResolvedTarget): Timeline {
  const states: string[] = [];
  const r = runCase(c, target, (m, s, i) => {
    // an allocation's page is known from its result
    states[i] = s.effect.op === Op.AllocPage ? pageState(m, (s.result as { pfn: number }).pfn) : stateAfter(m, s.effect);
  });
  const threads = r.machine.threads.map((t) => t.name);
  const preemptAt = new Set(r.preemptions.map((p) => p.at));
  const violStep = r.verdict.kind === 'pass' ? -1 : r.verdict.step;
  const rows = r.trace.map((s: TraceStep, i): TimelineRow => {
    const res = describeResult(s.effect, s.result);
    const label = describeEffect(r.machine, s.effect) + (res ? ` ${res}` : '') + (s.issuedOnly ? '  (issued)' : '');
    return {
      step: i + 1,
      thread: s.thread,
      label,
      source: formatSite(s.effect.at) + (s.effect.at.note ? ` (${s.effect.at.note})` : ''),
      state: states[i] ?? '',
      violating: i === violStep,
      preempted: preemptAt.has(i),
    };
  });
  return { threads, rows, verdict: r.verdict };
}

function pad(s: string, w: number): string {
  return s.length >= w ? s.slice(0, w - 1) + '…' : s + ' '.repeat(w - s.length);
}

/** Renders a timeline as text columns. `width` is the width of each thread column. */
export function renderTimeline(t: Timeline, c: Case, width = 46): string {
  const out: string[] = [];
  out.push(`scenario: ${scenarioText(c.scenario)}`);
  const head = '     step  ' + t.threads.map((n) => pad(n, width)).join('') + 'state after the step';
  out.push(head);
  out.push('-'.repeat(Math.min(head.length + 20, 11 + width * t.threads.length + 40)));
  for (const row of t.rows) {
    if (row.preempted) out.push(`           ${' '.repeat(width * row.thread)}~~ preempted: ${t.threads[row.thread]} runs ~~`);
    const mark = row.violating ? '>>' : '  ';
    const cols = t.threads.map((_, i) => (i === row.thread ? pad(row.label, width) : ' '.repeat(width))).join('');
    out.push(`${mark} ${String(row.step).padStart(5)}  ${cols}${row.state}`.trimEnd());
    out.push(`           ${' '.repeat(width * row.thread)}  ${row.source}`);
  }
  return out.join('\n');
}
