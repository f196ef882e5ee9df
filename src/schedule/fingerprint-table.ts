/**
 * The explored nodes of the bounded search: fingerprint (three 32-bit words of the prefix's trace
 * hash, plus the running thread) → fewest preemptions spent when the node was explored. An
 * open-addressing table over typed arrays: a search visits up to millions of nodes.
 */
export class FingerprintTable {
  private cap = 1 << 12;
  private h0 = new Int32Array(this.cap);
  private h1 = new Int32Array(this.cap);
  private h2 = new Int32Array(this.cap);
  /** Running thread + 2 (0: empty slot). */
  private tag = new Int16Array(this.cap);
  private spent = new Int32Array(this.cap);
  size = 0;

  private slot(a: number, b: number, c: number, t: number): number {
    const mask = this.cap - 1;
    let i = (a ^ Math.imul(b, 0x27d4eb2f) ^ Math.imul(t + 1, 0x165667b1)) & mask;
    for (;;) {
      const g = this.tag[i];
      if (g === 0 || (g === t + 2 && this.h0[i] === a && this.h1[i] === b && this.h2[i] === c)) return i;
      i = (i + 1) & mask;
    }
  }

  /** Preemptions spent at the node, or -1 if it was not explored. */
  get(a: number, b: number, c: number, thread: number): number {
    const i = this.slot(a | 0, b | 0, c | 0, thread);
    return this.tag[i] === 0 ? -1 : this.spent[i];
  }

  /**
   * Records the node as explored with `spent` preemptions unless it already was with no more;
   * returns whether it is new (or now reached more cheaply).
   */
  lower(a: number, b: number, c: number, thread: number, spent: number): boolean {
    const i = this.slot(a | 0, b | 0, c | 0, thread);
    if (this.tag[i] !== 0 && this.spent[i] <= spent) return false;
    this.set(a, b, c, thread, spent);
    return true;
  }

  set(a: number, b: number, c: number, thread: number, spent: number): void {
    if (2 * (this.size + 1) > this.cap) this.grow();
    const i = this.slot(a | 0, b | 0, c | 0, thread);
    if (this.tag[i] === 0) this.size++;
    this.h0[i] = a | 0;
    this.h1[i] = b | 0;
    this.h2[i] = c | 0;
    this.tag[i] = thread + 2;
    this.spent[i] = spent;
  }

  private grow() {
    const { h0, h1, h2, tag, spent, cap } = this;
    this.cap = cap * 2;
    this.h0 = new Int32Array(this.cap);
    this.h1 = new Int32Array(this.cap);
    this.h2 = new Int32Array(this.cap);
    this.tag = new Int16Array(this.cap);
    this.spent = new Int32Array(this.cap);
    this.size = 0;
    for (let i = 0; i < cap; i++) if (tag[i] !== 0) this.set(h0[i], h1[i], h2[i], tag[i] - 2, spent[i]);
  }
}
