/**
 * The trace of a counterexample as reports draw it: every step of the timeline with a snapshot of
 * what a kernel engineer wants beside it — which locks each thread holds, whether it is in atomic
 * context, and the PTE, spte and page state of the modelled VMA — all read from the machine after the
 * step (never guessed from labels).
 */
import { runCase, type Case, type ResolvedTarget } from '../check/case';
import { Op } from '../runtime/effect';
import { LockKind, addressOf, hex, pageTableEntry, type Machine, type Pte } from '../runtime/machine';
import { timelineOf, type Timeline, type TimelineRow } from './timeline';

/** A column of the memory state: one PTE, one spte of one table, or one page. */
export interface MemoryColumn {
  readonly key: string;
  readonly title: string;
  readonly kind: 'pte' | 'spte' | 'page';
}

/**
 * One cell of memory state; `bad` marks an spte that maps a freed (or reallocated) page, `stale` one
 * that maps another page than the CPU's PTE (legitimate inside an invalidation, or for a `pin`
 * driver; a rule broken for a mirror once the invalidation is over).
 */
export interface MemoryCell {
  readonly text: string;
  readonly bad?: boolean;
  readonly stale?: boolean;
}

/** A lock a thread holds after a step. */
export interface HeldLock {
  readonly name: string;
  readonly kind: 'spinlock' | 'mutex' | 'rwsem';
}

export interface ReportStep extends TimelineRow {
  /** An annotation (a call, a decision taken on values already read), not a step on shared state. */
  readonly note: boolean;
  /** Per thread: the locks it holds after this step, in acquisition order. */
  readonly held: readonly (readonly HeldLock[])[];
  /** Per thread: spinlocks held + interrupts-disabled depth after this step (> 0: atomic context). */
  readonly atomic: readonly number[];
  /** Memory state after this step, by column key (a key absent: the page does not exist yet). */
  readonly memory: Readonly<Record<string, MemoryCell>>;
}

/** A counterexample's trace as reports draw it: threads, memory columns, and every step with its snapshot. */
export interface ReportTrace {
  readonly threads: readonly string[];
  readonly columns: readonly MemoryColumn[];
  readonly steps: readonly ReportStep[];
  readonly verdict: Timeline['verdict'];
}

interface Snapshot {
  held: HeldLock[][];
  atomic: number[];
  memory: Record<string, MemoryCell>;
}

const LOCK_KIND = { [LockKind.Spin]: 'spinlock', [LockKind.Mutex]: 'mutex', [LockKind.RwSem]: 'rwsem' } as const;

/** A page-table cell: the PTE, or under a huge PMD its subpage's view (marked, like a PMD migration entry or the huge zero page). */
function pteCellText(pte: Pte | null): string {
  if (!pte) return 'none';
  const huge = pte.huge ? (pte.hugeZero ? ' (huge zero page PMD)' : ' (huge PMD)') : '';
  if (pte.swap) return `${pte.migration ? 'migration' : 'swap'} entry (pfn ${pte.pfn}/g${pte.generation})${huge}`;
  return `pfn ${pte.pfn}/g${pte.generation} ${pte.protnone ? 'PROT_NONE (NUMA hint)' : pte.writable ? 'rw' : 'ro'}${pte.dirty ? ' dirty' : ''}${huge}`;
}

function snapshot(m: Machine): Snapshot {
  const memory: Record<string, MemoryCell> = {};
  for (let v = 0; v < m.nPages; v++) {
    const pte = pageTableEntry(m, v); // a PTE, or the view of a huge PMD's subpage
    memory[`pte:${v}`] = { text: pteCellText(pte) };
    m.tables.forEach((t, ti) => {
      const s = t.entries[v];
      if (!s) {
        memory[`spte:${ti}:${v}`] = { text: 'none' };
        return;
      }
      const p = m.pages[s.pfn];
      const bad = p === undefined || p.free || p.generation !== s.generation;
      const stale = !bad && (!pte || pte.swap || pte.pfn !== s.pfn || pte.generation !== s.generation);
      const note = bad ? ' (page freed)' : stale ? ` (stale: PTE ${!pte ? 'none' : pte.swap ? 'swap' : `pfn ${pte.pfn}`})` : '';
      memory[`spte:${ti}:${v}`] = { text: `pfn ${s.pfn}/g${s.generation} ${s.writable ? 'rw' : 'ro'}${note}`, ...(bad ? { bad } : {}), ...(stale ? { stale } : {}) };
    });
  }
  for (let pfn = 1; pfn < m.pages.length; pfn++) {
    const p = m.pages[pfn];
    const text = p.free ? `free (next g${p.generation})` : `g${p.generation} ref ${p.refcount} map ${p.mapcount}${p.swapCache ? ' swapcache' : ''}${p.lockedBy >= 0 ? ' locked' : ''}${p.dirty ? ' dirty' : ''}`;
    memory[`page:${pfn}`] = { text };
  }
  return {
    held: m.threads.map((t) => t.held.map((l) => ({ name: m.locks[l]?.name ?? `lock#${l}`, kind: LOCK_KIND[m.locks[l]?.kind ?? LockKind.Spin] }))),
    atomic: m.threads.map((t) => t.atomic),
    memory,
  };
}

function columnsOf(m: Machine, snaps: readonly Snapshot[]): MemoryColumn[] {
  const cols: MemoryColumn[] = [];
  for (let v = 0; v < m.nPages; v++) {
    cols.push({ key: `pte:${v}`, title: `PTE ${hex(addressOf(v))}`, kind: 'pte' });
    m.tables.forEach((t, ti) => cols.push({ key: `spte:${ti}:${v}`, title: `${t.name} ${hex(addressOf(v))}`, kind: 'spte' }));
  }
  const pfns = new Set<number>();
  for (const s of snaps) for (const k of Object.keys(s.memory)) if (k.startsWith('page:')) pfns.add(Number(k.slice(5)));
  for (const pfn of [...pfns].sort((a, b) => a - b)) cols.push({ key: `page:${pfn}`, title: `pfn ${pfn}`, kind: 'page' });
  return cols;
}

/** Re-runs `c` and returns its timeline with a state snapshot after every step. */
export function reportTraceOf(c: Case, target?: ResolvedTarget): ReportTrace {
  const timeline = timelineOf(c, target);
  const snaps: Snapshot[] = [];
  const r = runCase(c, target, (m, _step, i) => {
    snaps[i] = snapshot(m);
  });
  // A step issued but not run (an effect invariant stopped it) changed nothing: the state before it.
  for (let i = 0; i < r.trace.length; i++) snaps[i] ??= snaps[i - 1] ?? snapshot(r.machine);
  const steps = timeline.rows.map((row, i): ReportStep => ({ ...row, note: r.trace[i]?.effect.op === Op.Note, ...snaps[i] }));
  return { threads: timeline.threads, columns: columnsOf(r.machine, snaps), steps, verdict: timeline.verdict };
}
