/**
 * `mmu-race check`: fuzz a notifier — a built-in driver (`--driver NAME`) or a user's module
 * (`mmu-race check ./my-notifier.ts`) — on one era or every era it declares, and print a verdict
 * with what was covered, or the minimal counterexample with its replay line; write a report for
 * every counterexample.
 *
 * A user's module is compiled once here (type errors are bad input, exit 2) and run in a worker
 * thread under a time budget; so is every check run from the command line, so that the progress bar
 * redraws and Ctrl-C stops cleanly. A built-in driver checked through `run()` with an injected `Io`
 * (tests, embedding) runs in this thread, synchronously.
 */
import { parseArgs } from 'node:util';
import { configuredRuns, configuredSeed } from '../check/budget';
import { DEFAULT_MAX_STEPS, resolve } from '../check/case';
import { driverByName, erasOf } from '../drivers';
import { ERAS, eraByName } from '../eras';
import { INVARIANTS } from '../invariants';
import { compileNotifierModule } from '../notifier/compile';
import { UsageError } from '../runtime/errors';
import { DEFAULT_BOUNDS, type ScenarioBounds } from '../scenario/arbitrary';
import { runCheckJob, type CheckJob, type CheckOutcome, type DriverInfo } from './check-job';
import { EXIT_INTERRUPTED, describeVerdict, exitCodeOf, intFlag, printFinding, reportFinding, secondsFlag, violationJson, worstExit } from './common';
import { processIo, type Io } from './io';
import { NO_PROGRESS, progressView, type ProgressView } from './progress';
import type { ReportPlace } from './reports';
import { runInWorker, type WorkerEnd } from './worker-host';

export const CLI_DEFAULT_RUNS = 50000;
export const DEFAULT_KERNEL = 'v4.13';
export const DEFAULT_DRIVER = 'kvm-no-retry';
/** Seconds a user's callback may run without yielding an effect before the check is stopped. */
export const DEFAULT_TIMEOUT = 10;

interface CheckContext {
  readonly io: Io;
  readonly json: boolean;
  readonly moduleArg?: string;
  readonly report: ReportPlace | null;
  readonly maxSteps: number;
  readonly progress: ProgressView;
  /** Filled as results come. */
  readonly outcomes: CheckOutcome[];
  readonly reports: Map<CheckOutcome, string>;
  driver?: DriverInfo;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      kernel: { type: 'string' },
      driver: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      'max-steps': { type: 'string' },
      mode: { type: 'string' },
      timeout: { type: 'string' },
      'report-dir': { type: 'string' },
      'no-report': { type: 'boolean' },
      'transpile-only': { type: 'boolean' },
      json: { type: 'boolean' },
      'draw-era': { type: 'boolean' },
      also: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
}

/** What `--also` may add to the default draw: operations drawn only on request. */
const ALSO: Record<string, Partial<ScenarioBounds>> = {
  unregister: { lifetime: true },
  file: { file: true },
  // a drawn file scenario with THP becomes a DAX one (huge PMDs of pmem; catalogue B3)
  dax: { file: true, dax: true },
  // reclaim's aging pass: page_referenced → ->clear_flush_young (kernel/aging.ts)
  aging: { aging: true },
};

/** `--also unregister,file`: the default bounds with those operations drawn too. */
function alsoBounds(also: string | undefined): ScenarioBounds | undefined {
  if (also === undefined) return undefined;
  let b: ScenarioBounds = DEFAULT_BOUNDS;
  for (const w of also.split(',').map((x) => x.trim())) {
    const add = ALSO[w];
    if (!add) throw new UsageError(`--also takes ${Object.keys(ALSO).join(', ')} (comma-separated), got '${w}'`);
    b = { ...b, ...add };
  }
  return b;
}

/** `--mode fuzz` (default) or `--mode exhaustive` (src/check/explore.ts exploreCatalogue). */
function checkMode(mode: string | undefined): 'fuzz' | 'exhaustive' {
  if (mode === undefined || mode === 'fuzz' || mode === 'exhaustive') return mode ?? 'fuzz';
  throw new UsageError(`--mode must be 'fuzz' or 'exhaustive', got '${mode}'`);
}

function coverageText(o: CheckOutcome, maxSteps: number): string {
  const s = o.summary;
  const x = s.exhaustive;
  if (x) {
    return (
      `${s.executions} executions exploring every schedule with at most ${x.maxPreemptions} preemptions of the catalogue scenarios ` +
      `${x.scenarios.join(', ')} (step budget ${x.maxSteps}): ${x.complete ? 'complete within these bounds' : 'INCOMPLETE (a bound cut the search)'}; ` +
      `invariants: ${INVARIANTS.map((i) => i.name).join(', ')}`
    );
  }
  const families = Object.entries(s.coverage ?? {})
    .map(([f, n]) => `${f} (${n})`)
    .join(', ');
  const b = DEFAULT_BOUNDS;
  return (
    `${s.executions} executions; scenario families (executions that ran them): ${families || 'none'}; ` +
    `bounds: up to ${b.maxOpsPerThread} operations per thread on ${b.pages} pages, up to 3 preemptions, step budget ${maxSteps}; ` +
    `invariants: ${INVARIANTS.map((i) => i.name).join(', ')}`
  );
}

/** Prints one era's result (and writes its report) as soon as it is known. */
function emit(ctx: CheckContext, o: CheckOutcome): void {
  ctx.progress.stop();
  ctx.outcomes.push(o);
  const f = o.finding;
  if (f) {
    const dir = reportFinding(ctx.io, f, ctx.report);
    if (dir) ctx.reports.set(o, dir);
  }
  if (ctx.json) return;
  const { io } = ctx;
  const s = o.summary;
  if (ctx.moduleArg) io.out(`\nkernel ${s.kernel}:`);
  if (f) {
    io.out(`race found after ${s.executions} executions (runs, shrinking and minimisation)${s.interrupted ? ', interrupted before minimising' : ''}`);
    io.out('');
    printFinding(io, f, { moduleArg: ctx.moduleArg });
  } else if (s.verdict.kind !== 'pass') {
    io.out(describeVerdict(s.verdict));
  } else if (s.interrupted) {
    io.out(`interrupted: no race found so far in ${coverageText(o, ctx.maxSteps)}`);
  } else {
    io.out(`no race found: ${coverageText(o, ctx.maxSteps)}`);
    io.out(s.exhaustive ? (s.exhaustive.complete ? '(exhaustive: a proof within the bounds above)' : '(exhaustive but cut short: not a proof)') : '(random search: a pass is evidence, not a proof)');
  }
}

function statusOf(o: CheckOutcome): number {
  if (o.summary.verdict.kind === 'pass' && o.summary.interrupted) return EXIT_INTERRUPTED;
  return exitCodeOf(o.summary.verdict);
}

function eraJson(ctx: CheckContext, o: CheckOutcome) {
  const s = o.summary;
  const report = ctx.reports.get(o);
  return {
    verdict: s.verdict.kind,
    kernel: s.kernel,
    driver: s.driver,
    executions: s.executions,
    seed: s.seed,
    runs: s.runs,
    ...(s.interrupted ? { interrupted: true } : {}),
    coverage: s.coverage ?? {},
    ...(o.finding ? { violation: violationJson(o.finding) } : s.verdict.kind !== 'pass' ? { message: s.verdict.message } : {}),
    ...(report ? { report } : {}),
  };
}

/** The end of a check: the JSON document (with `--json`) and the exit status. */
function finish(ctx: CheckContext, end: WorkerEnd | null): number {
  ctx.progress.stop();
  const codes = ctx.outcomes.map(statusOf);
  if (end && end.kind !== 'done') codes.push(2);
  if (ctx.json && ctx.outcomes.length > 0) {
    const eras = ctx.outcomes.map((o) => eraJson(ctx, o));
    const top = eras.find((e) => e.verdict !== 'pass') ?? eras[0];
    ctx.io.out(JSON.stringify({ ...top, ...(ctx.moduleArg ? { module: ctx.moduleArg, results: eras } : {}) }, null, 2));
  }
  if (end?.kind === 'error') {
    if (!end.usage) throw new Error(`${end.message}\n${end.stack}`);
    ctx.io.err(`mmu-race: ${end.message}`);
  } else if (end?.kind === 'timeout') {
    const who = end.callback ? `${end.callback} of '${ctx.driver?.name ?? 'the notifier'}'` : `the notifier module (while ${end.phase})`;
    ctx.io.err(
      `mmu-race: ${who} ran for more than ${end.seconds} s without yielding an effect, and was stopped. ` +
        `A callback must reach its next \`yield*\` of the kernel API in bounded time; is there a loop that never yields? (--timeout S sets the budget)`,
    );
  } else if (end?.kind === 'killed') {
    ctx.io.err('mmu-race: stopped (second Ctrl-C) before the check could report');
  } else if (end?.kind === 'done' && end.interrupted) {
    ctx.io.err(`mmu-race: interrupted (Ctrl-C); ${ctx.outcomes.length} result${ctx.outcomes.length === 1 ? '' : 's'} reported`);
  }
  return worstExit(codes);
}

function header(ctx: CheckContext, d: DriverInfo, job: CheckJob): void {
  ctx.driver = d;
  if (ctx.json) return;
  if (ctx.moduleArg) {
    const eras = job.kernels ?? d.eras;
    ctx.io.out(`mmu-race check: ${ctx.moduleArg} defines '${d.name}' (${d.contract}): ${d.title}`);
    ctx.io.out(`eras: ${eras.join(', ')}${job.kernels ? ` (declared: ${d.eras.join(', ')})` : ''}; ${job.mode === 'exhaustive' ? 'exhaustive' : `seed ${job.seed}, ${job.runs} runs per era`}`);
  } else {
    const ks = job.kernels ?? [];
    const which = ks.length === 1 ? `kernel ${ks[0]}` : `kernels ${ks.join(', ')} (${job.drawEra ? 'the era drawn per run' : 'each in turn'})`;
    ctx.io.out(`mmu-race check: ${which}, driver ${d.name}: ${d.title}`);
    ctx.io.out(job.mode === 'exhaustive' ? 'exhaustive: every schedule within the preemption bound of the catalogue\'s spine scenarios' : `seed ${job.seed}, ${job.runs} runs`);
  }
}

async function checkInWorker(ctx: CheckContext, job: CheckJob, timeoutMs: number | undefined): Promise<number> {
  let violations = 0;
  const end = await runInWorker(
    job,
    {
      ready: (d) => header(ctx, d, job),
      // A race being shrunk is a violation found already.
      progress: (p) => ctx.progress.update(p, violations + (p.phase === 'fuzz' ? 0 : 1)),
      outcome: (o) => {
        if (o.finding) violations++;
        emit(ctx, o);
      },
      interrupting: () => {
        ctx.progress.stop();
        ctx.io.err('mmu-race: stopping after the current execution; every finding so far is reported (Ctrl-C again to quit at once)');
      },
      userOutput: (chunk) => process.stderr.write(chunk),
    },
    { timeoutMs },
  );
  return finish(ctx, end);
}

function checkHere(ctx: CheckContext, job: CheckJob): number {
  runCheckJob(job, {
    ready: (d) => header(ctx, d, job),
    progress: (p) => ctx.progress.update(p, p.phase === 'fuzz' ? 0 : 1),
    outcome: (o) => emit(ctx, o),
  });
  return finish(ctx, null);
}

/** The `check` command: a number for an in-thread check, a promise of it for one in a worker. */
export function cmdCheck(args: string[], io: Io): number | Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length > 1) throw new UsageError(`check takes one notifier module, got ${positionals.length}: ${positionals.join(' ')}`);
  const mode = checkMode(values.mode);
  const moduleArg = positionals[0];
  if (moduleArg !== undefined && values.driver !== undefined) throw new UsageError(`give a notifier module or --driver, not both (got ${moduleArg} and --driver ${values.driver})`);
  const runs = intFlag('runs', values.runs, configuredRuns(CLI_DEFAULT_RUNS), 1);
  const seed = intFlag('seed', values.seed, configuredSeed(), -(2 ** 31));
  const maxSteps = intFlag('max-steps', values['max-steps'], DEFAULT_MAX_STEPS, 10);
  const timeout = secondsFlag('timeout', values.timeout, DEFAULT_TIMEOUT);
  // `--kernel v4.12,v4.13` or `--kernel all` (every era the driver declares)
  const kernelList = values.kernel === undefined || values.kernel === 'all' ? undefined : values.kernel.split(',').map((k) => k.trim());
  for (const k of kernelList ?? []) eraByName(k); // an unknown era is reported before any work
  const drawEra = values['draw-era'] === true;
  const bounds = alsoBounds(values.also);
  if (drawEra && mode === 'exhaustive') throw new UsageError('--draw-era is for fuzzing: --mode exhaustive explores each era in turn');
  const report: ReportPlace | null = values['no-report'] ? null : { dir: values['report-dir'] };
  const processOutput = io === processIo;
  const progress = processOutput ? progressView({ stream: process.stderr, env: process.env }) : NO_PROGRESS;
  const ctx: CheckContext = { io, json: values.json === true, moduleArg, report, maxSteps, progress, outcomes: [], reports: new Map() };

  if (moduleArg !== undefined) {
    const module = compileNotifierModule(moduleArg, { typeCheck: values['transpile-only'] !== true });
    return checkInWorker(ctx, { module, kernels: kernelList, runs, seed, maxSteps, mode, drawEra, ...(bounds ? { bounds } : {}) }, timeout * 1000);
  }
  const driver = values.driver ?? DEFAULT_DRIVER;
  // every era the (first) driver is modelled for; erasOf validates the name before any work
  const first = driver.split('+')[0];
  if (erasOf(first).length === 0) driverByName(first); // throws: unknown driver, naming the known ones
  const kernels = values.kernel === 'all' ? ERAS.map((e) => e.name).filter((k) => erasOf(first).includes(k)) : (kernelList ?? [DEFAULT_KERNEL]);
  for (const kernel of kernels) {
    const target = resolve(kernel, driver);
    if (!target.driver.eras.includes(kernel)) throw new UsageError(`driver '${driver}' is not written for kernel ${kernel} (it declares ${target.driver.eras.join(', ')})`);
  }
  const job: CheckJob = { driver, kernels, runs, seed, maxSteps, mode, drawEra, ...(bounds ? { bounds } : {}) };
  return processOutput ? checkInWorker(ctx, job, undefined) : checkHere(ctx, job);
}
