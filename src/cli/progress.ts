/**
 * Progress of a long check on stderr: a bar (cli-progress) with executions per second and the
 * violations found so far when stderr is a terminal; otherwise a plain line every few seconds, and
 * only once a run has lasted that long (short runs, and tests, print nothing). Colour only on a
 * terminal and never with NO_COLOR set (https://no-color.org).
 */
import { SingleBar } from 'cli-progress';
import type { CheckProgress } from '../check/fuzz';

export interface ProgressView {
  /** A new state of the current check; `violations` counts the findings of this command so far. */
  update(p: CheckProgress, violations: number): void;
  /** Removes the bar (before printing results) or ends the plain lines. */
  stop(): void;
}

/** The stream and environment the view writes to. */
export interface ProgressTarget {
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Clock in ms (injected for tests). */
  readonly now?: () => number;
  /** Seconds between plain lines (default 5). */
  readonly plainEvery?: number;
}

function useColour(t: ProgressTarget): boolean {
  return t.stream.isTTY === true && (t.env.NO_COLOR ?? '') === '' && t.env.TERM !== 'dumb';
}

const PHASE: Record<CheckProgress['phase'], string> = { fuzz: 'fuzzing', shrink: 'race found, shrinking', minimize: 'minimising' };

/** Executions per second since the first report of this check (`from`: its time and count). */
function rate(executions: number, from: { at: number; executions: number }, now: number): number {
  const s = (now - from.at) / 1000;
  return s >= 0.2 ? Math.round((executions - from.executions) / s) : 0;
}

/** The bar, on a terminal. */
function barView(t: ProgressTarget): ProgressView {
  const now = t.now ?? Date.now;
  const red = useColour(t) ? (s: string) => `\x1b[31m${s}\x1b[39m` : (s: string) => s;
  let bar: SingleBar | null = null;
  let key = '';
  let first = { at: now(), executions: 0 };
  const start = (p: CheckProgress) => {
    bar?.stop();
    bar = new SingleBar({
      stream: t.stream,
      format: '{era} {phase} [{bar}] {value}/{total} executions | {rate}/s | {violations}',
      barsize: 28,
      hideCursor: true,
      clearOnComplete: true,
      noTTYOutput: false,
      fps: 8,
    });
    key = `${p.kernel}/${p.driver}`;
    first = { at: now(), executions: p.executions };
    bar.start(p.runs, 0, { era: p.kernel, phase: PHASE.fuzz, rate: 0, violations: '0 violations' });
  };
  return {
    update(p, violations) {
      if (!bar || key !== `${p.kernel}/${p.driver}`) start(p);
      const v = `${violations} violation${violations === 1 ? '' : 's'}`;
      bar!.update(Math.min(p.executions, p.runs), { phase: PHASE[p.phase], rate: rate(p.executions, first, now()), violations: violations > 0 ? red(v) : v });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

/** Plain lines, when stderr is a pipe or a file. */
function plainView(t: ProgressTarget): ProgressView {
  const now = t.now ?? Date.now;
  const every = (t.plainEvery ?? 5) * 1000;
  let first = { at: now(), executions: 0 };
  let last = first.at;
  let key = '';
  let phase = '';
  return {
    update(p, violations) {
      const k = `${p.kernel}/${p.driver}`;
      if (k !== key) {
        key = k;
        first = { at: now(), executions: p.executions };
        last = first.at;
        phase = p.phase;
      }
      const at = now();
      const phaseChanged = p.phase !== phase && last !== first.at; // only once lines are being printed
      phase = p.phase;
      if (at - last < every && !phaseChanged) return;
      last = at;
      t.stream.write(`mmu-race: ${p.kernel} ${p.driver}: ${PHASE[p.phase]}, ${p.executions}/${p.runs} executions, ${rate(p.executions, first, at)}/s, ${violations} violation${violations === 1 ? '' : 's'} so far\n`);
    },
    stop() {},
  };
}

/** The view for `target`: a bar on a terminal, plain lines otherwise. */
export function progressView(target: ProgressTarget): ProgressView {
  return target.stream.isTTY ? barView(target) : plainView(target);
}

/** A view that shows nothing (`--json`, tests). */
export const NO_PROGRESS: ProgressView = { update() {}, stop() {} };
