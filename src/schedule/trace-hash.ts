/**
 * A fingerprint of the Mazurkiewicz trace of an execution prefix, kept incrementally: every step is
 * hashed with its thread, its position in that thread and its vector clock (which steps happen
 * before it under the footprint dependence), and the step hashes are summed, so that every
 * interleaving of the same trace gets the same fingerprint. Two prefixes with the same trace end in
 * the same state (footprints are exact and threads deterministic): this is CHESS's happens-before
 * state caching (Musuvathi and Qadeer, "Partial-order reduction for context-bounded state
 * exploration", MSR-TR-2007-12).
 *
 * Three independent 32-bit sums make a 96-bit fingerprint: with a million nodes, the chance that
 * two different traces share one is below 10^-16.
 */
import type { Access } from './dependence';

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

const SEEDS = [0x811c9dc5, 0x1b873593, 0x27d4eb2f];

export class TraceHasher {
  private readonly counts: Int32Array;
  private readonly lastOf: (Int32Array | null)[];
  private readonly lastWrite = new Map<number, Int32Array>();
  private readonly readsSince = new Map<number, Int32Array>();
  /** The fingerprint: three 32-bit sums. */
  readonly sums = [0, 0, 0];

  constructor(private readonly threads: number) {
    this.counts = new Int32Array(threads);
    this.lastOf = new Array(threads).fill(null);
  }

  /** The vector clock `thread`'s next step would get, touching `access`. */
  private clockOf(thread: number, access: Access): Int32Array {
    const n = this.threads;
    const vc = this.lastOf[thread]?.slice() ?? new Int32Array(n);
    const join = (d: Int32Array | undefined) => {
      if (d) for (let t = 0; t < n; t++) if (d[t] > vc[t]) vc[t] = d[t];
    };
    for (const o of access.reads) join(this.lastWrite.get(o));
    for (const o of access.writes) {
      join(this.lastWrite.get(o));
      join(this.readsSince.get(o));
    }
    vc[thread] = this.counts[thread] + 1;
    return vc;
  }

  private stepHash(s: number, thread: number, op: number, operand: number, vc: Int32Array): number {
    let h = mix(SEEDS[s], thread);
    h = mix(h, this.counts[thread]);
    h = mix(h, op);
    h = mix(h, operand);
    for (let t = 0; t < this.threads; t++) h = mix(h, vc[t]);
    return h;
  }

  /** Adds the next step of the prefix. */
  push(thread: number, access: Access, op: number, operand: number): void {
    const n = this.threads;
    const vc = this.clockOf(thread, access);
    for (let s = 0; s < 3; s++) this.sums[s] = (this.sums[s] + this.stepHash(s, thread, op, operand, vc)) >>> 0;
    this.counts[thread]++;
    for (const o of access.writes) {
      this.lastWrite.set(o, vc);
      this.readsSince.delete(o);
    }
    for (const o of access.reads) {
      if (access.writes.includes(o)) continue;
      const r = this.readsSince.get(o);
      if (!r) this.readsSince.set(o, vc.slice());
      else for (let t = 0; t < n; t++) if (vc[t] > r[t]) r[t] = vc[t];
    }
    this.lastOf[thread] = vc;
  }

  /** Writes into `out` (at `at`) the fingerprint the prefix would have with that step added. */
  sumsWith(thread: number, access: Access, op: number, operand: number, out: number[], at: number): void {
    const vc = this.clockOf(thread, access);
    for (let s = 0; s < 3; s++) out[at + s] = (this.sums[s] + this.stepHash(s, thread, op, operand, vc)) | 0;
  }

}
