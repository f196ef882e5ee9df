/**
 * One `mmu-race check` job as plain data, and the code that runs it: the same in this thread (a
 * built-in driver, not on a terminal) or in a worker (a user's module, whose code may loop without
 * yielding; or any check on a terminal, so that Ctrl-C and the progress bar stay live). Results go
 * to a {@link JobSink} as they come, so that a finding is printed and written before the next era
 * starts, and survives a later timeout or Ctrl-C.
 */
import { relative } from 'node:path';
import { check, checkTarget, type AbortFlag, type CheckProgress } from '../check/fuzz';
import * as api from '../index';
import { checkNotifier } from '../notifier/check-notifier';
import type { CompiledModule } from '../notifier/compile';
import { callbackNames } from '../notifier/instrument';
import { instantiate } from '../notifier/instantiate';
import { notifierExport, validateNotifier } from '../notifier/validate';
import { WATCH_HEARTBEAT, setPhase, type Watch } from '../notifier/watch';
import { findingOf, summaryOf, type CheckSummary, type Finding } from '../report/finding';
import { exploreCatalogue } from '../check/explore';
import { eraByName } from '../eras';
import type { ScenarioBounds } from '../scenario/arbitrary';

export interface CheckJob {
  /** A built-in driver by name … */
  readonly driver?: string;
  /** … or a user's compiled module. */
  readonly module?: CompiledModule;
  /** Eras to check; for a module, absent means every era it declares. */
  readonly kernels?: readonly string[];
  readonly runs: number;
  readonly seed: number;
  readonly maxSteps: number;
  /** `fuzz` (default) or `exhaustive`: every spine scenario of the catalogue within the preemption bound. */
  readonly mode?: 'fuzz' | 'exhaustive';
  /** With several eras, fuzz: one campaign drawing the era per run (`--draw-era`), instead of one campaign per era. */
  readonly drawEra?: boolean;
  /** Scenario bounds (`--also`), default DEFAULT_BOUNDS. */
  readonly bounds?: ScenarioBounds;
}

/** One era's result, ready to print and write (plain data). */
export interface CheckOutcome {
  readonly summary: CheckSummary;
  readonly finding?: Finding;
}

/** What the driver under check is, once loaded and validated. */
export interface DriverInfo {
  readonly name: string;
  readonly title: string;
  readonly contract: string;
  readonly eras: readonly string[];
  /** The callbacks a watchdog can name (see `callbackNames`). */
  readonly callbacks: readonly string[];
}

export interface JobSink {
  ready(d: DriverInfo): void;
  progress(p: CheckProgress): void;
  outcome(o: CheckOutcome): void;
}

export interface JobContext {
  readonly watch?: Watch;
  readonly signal?: AbortFlag;
}

function runBuiltIn(job: CheckJob, sink: JobSink, ctx: JobContext): void {
  const kernels = job.kernels ?? ['v4.13'];
  const first = checkTarget({ kernel: kernels[0], driver: job.driver });
  const d = first.driver;
  sink.ready({ name: d.name, title: d.title, contract: d.contract, eras: d.eras, callbacks: [] });
  const common = { driver: job.driver, runs: job.runs, seed: job.seed, maxSteps: job.maxSteps, bounds: job.bounds, coverage: true, onProgress: sink.progress, signal: ctx.signal };
  if (job.drawEra && job.mode !== 'exhaustive' && kernels.length > 1) {
    const res = check({ ...common, kernel: kernels[0], kernels });
    const cx = res.counterexample;
    const search = { executions: res.executions, seed: res.seed, runs: res.runs };
    sink.outcome({ summary: summaryOf(res), ...(cx ? { finding: findingOf({ case: cx.case, target: checkTarget({ kernel: cx.case.kernel, driver: job.driver }), search }) } : {}) });
    return;
  }
  for (const kernel of kernels) {
    const target = checkTarget({ kernel, driver: job.driver });
    const res = job.mode === 'exhaustive' ? exploreCatalogue({ kernel, driver: job.driver as string, maxSteps: job.maxSteps, target }) : check({ ...common, kernel });
    const cx = res.counterexample;
    const search = { executions: res.executions, seed: res.seed, runs: res.runs };
    sink.outcome({ summary: summaryOf(res), ...(cx ? { finding: findingOf({ case: cx.case, target, search }) } : {}) });
    if (res.interrupted) return;
  }
}

function runModule(job: CheckJob, module: CompiledModule, sink: JobSink, ctx: JobContext): void {
  const w = ctx.watch;
  setPhase(w, 'loading the module');
  const loaded = instantiate(module, api);
  const def = notifierExport(loaded.exports, relative(process.cwd(), module.entry) || module.entry);
  const d = validateNotifier(def, job.kernels);
  sink.ready({ name: d.name, title: d.title, contract: d.contract, eras: d.eras, callbacks: callbackNames(d) });
  if (job.mode === 'exhaustive') {
    for (const kernel of job.kernels ?? d.eras) {
      const target = { era: eraByName(kernel), driver: d };
      const result = exploreCatalogue({ kernel, driver: d.name, maxSteps: job.maxSteps, target });
      if (w) w[WATCH_HEARTBEAT]++;
      const cx = result.counterexample;
      sink.outcome({ summary: summaryOf(result), ...(cx ? { finding: findingOf({ case: cx.case, target, module: module.entry, search: { executions: result.executions, seed: 0, runs: 0 } }) } : {}) });
    }
    return;
  }
  checkNotifier(d, {
    kernel: job.kernels,
    drawEra: job.drawEra,
    bounds: job.bounds,
    runs: job.runs,
    seed: job.seed,
    maxSteps: job.maxSteps,
    coverage: true,
    locate: loaded.locate,
    watch: w,
    signal: ctx.signal,
    onProgress: (p) => {
      if (w) w[WATCH_HEARTBEAT]++;
      sink.progress(p);
    },
    onResult: ({ result, target }) => {
      const cx = result.counterexample;
      setPhase(w, 'building the report');
      const search = { executions: result.executions, seed: result.seed, runs: result.runs };
      sink.outcome({ summary: summaryOf(result), ...(cx ? { finding: findingOf({ case: cx.case, target, module: module.entry, search }) } : {}) });
      setPhase(w, 'checking');
    },
  });
}

/** Runs the job in this thread; results go to `sink` as they come. Throws UsageError on bad input. */
export function runCheckJob(job: CheckJob, sink: JobSink, ctx: JobContext = {}): void {
  if (job.module) runModule(job, job.module, sink, ctx);
  else runBuiltIn(job, sink, ctx);
}
