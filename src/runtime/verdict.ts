/** Verdicts are values, not exceptions (DESIGN §2). */
export type Verdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'violation'; readonly invariant: string; readonly message: string; readonly step: number; readonly thread: number }
  | { readonly kind: 'deadlock'; readonly message: string; readonly step: number }
  | { readonly kind: 'step-budget-exceeded'; readonly message: string; readonly step: number }
  | { readonly kind: 'model-error'; readonly message: string; readonly step: number; readonly thread: number };

export type VerdictKind = Verdict['kind'];

export const PASS: Verdict = Object.freeze({ kind: 'pass' });

/** The name a verdict is reported under: the invariant for violations, else the verdict kind. */
export function verdictName(v: Verdict): string {
  return v.kind === 'violation' ? v.invariant : v.kind;
}
