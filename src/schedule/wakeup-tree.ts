/**
 * Wakeup trees (Abdulla, Aronis, Jonsson, Sagonas, "Optimal dynamic partial order reduction",
 * POPL 2014, §6): at each node of the exploration, an ordered tree of step sequences still to run
 * from there. A reversed race adds the sequence that reverses it, unless an existing branch already
 * leads to an equivalent execution; the order of the children is the order of exploration.
 *
 * A sequence is compared with a branch through weak initials: thread p is a weak initial of a
 * sequence v when p's first step in v can be moved to the front (nothing before it in v conflicts
 * with it), or p does not occur in v and its next step conflicts with nothing in v.
 */
import { conflicts, type Access } from './dependence';

/** A step of a sequence: the thread and what its step touches. */
export interface SeqStep {
  readonly thread: number;
  readonly access: Access;
}

export interface WakeupNode {
  /** Thread of the step leading here (-1 at the root). */
  readonly thread: number;
  /** What that step touches (from the execution that inserted it, or that ran it). */
  access: Access | null;
  /** Branches still to explore, in order; while one is explored it stays first. */
  children: WakeupNode[];
}

export function wakeupRoot(): WakeupNode {
  return { thread: -1, access: null, children: [] };
}

/**
 * Whether `thread` (whose next step is `next` when it does not occur in `v`) is a weak initial of
 * `v`. Returns -2 if not, -1 if it is one without occurring in `v`, else the index of its step in `v`.
 */
export function weakInitial(thread: number, next: Access | null, v: readonly SeqStep[]): number {
  for (let a = 0; a < v.length; a++) {
    if (v[a].thread !== thread) continue;
    for (let b = 0; b < a; b++) if (conflicts(v[b].access, v[a].access)) return -2;
    return a;
  }
  if (next === null) return -2;
  for (const s of v) if (conflicts(s.access, next)) return -2;
  return -1;
}

/**
 * insert_[E](v, wut): walks down the leftmost branch compatible with `v` (each child a weak initial
 * of what is left of v); if it ends at a leaf, or v is used up, an equivalent execution is already
 * scheduled and nothing changes; otherwise the rest of v becomes a new last branch there.
 * Returns whether the tree changed.
 */
export function insertWakeup(root: WakeupNode, v: readonly SeqStep[]): boolean {
  let node = root;
  let rest = v.slice();
  for (;;) {
    if (rest.length === 0) return false;
    if (node !== root && node.children.length === 0) return false;
    let next: WakeupNode | null = null;
    for (const c of node.children) {
      const at = weakInitial(c.thread, c.access, rest);
      if (at === -2) continue;
      if (at >= 0) rest = rest.filter((_, k) => k !== at);
      next = c;
      break;
    }
    if (next === null) {
      let parent = node;
      for (const s of rest) {
        const child: WakeupNode = { thread: s.thread, access: s.access, children: [] };
        parent.children.push(child);
        parent = child;
      }
      return true;
    }
    node = next;
  }
}
