/**
 * Where a modelled step comes from: the kernel file, the function and the version whose code it
 * models. Every effect carries one, so that every line of a counterexample names its source.
 *
 * Sites are created once, at module load, and shared by every execution (they are immutable).
 */
export interface Site {
  /** Kernel source file, e.g. `mm/rmap.c`. */
  readonly file: string;
  /** Function in that file, e.g. `try_to_unmap_one`. */
  readonly fn: string;
  /** Kernel version (or commit) whose code was read, e.g. `v4.13`. */
  readonly version: string;
  /** Optional remark: an unverified fact, a simplification. */
  readonly note?: string;
}

/** Builds a frozen {@link Site}. */
export function site(file: string, fn: string, version: string, note?: string): Site {
  return Object.freeze(note === undefined ? { file, fn, version } : { file, fn, version, note });
}

/** `mm/rmap.c try_to_unmap_one v4.13` — the form used in reports. */
export function formatSite(s: Site): string {
  return `${s.file} ${s.fn} ${s.version}`;
}
