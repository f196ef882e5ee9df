/**
 * The command line. The only place that prints; everything else returns values.
 * Exit status: 0 no violation found, 1 violation found, 2 bad input (or a notifier that threw).
 */
import { parseArgs } from 'node:util';
import { configuredRuns, configuredSeed } from '../check/budget';
import { DEFAULT_MAX_STEPS, resolve, runCase, type Case } from '../check/case';
import { check, type CheckResult } from '../check/fuzz';
import { DRIVERS } from '../drivers';
import { ERAS } from '../eras';
import { INVARIANTS, invariantByName } from '../invariants';
import { UsageError } from '../runtime/errors';
import type { ExecutionResult } from '../runtime/execution';
import { verdictName, type Verdict } from '../runtime/verdict';
import { DEFAULT_BOUNDS } from '../scenario/arbitrary';
import { scenarioOps } from '../scenario/scenario';
import { decodeToken, encodeToken } from '../schedule/token';
import { renderTimeline, timelineOf } from '../report/timeline';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};

export const CLI_DEFAULT_RUNS = 10000;
const DEFAULT_KERNEL = 'v4.13';
const DEFAULT_DRIVER = 'kvm-no-retry';

export const HELP = `mmu-race: a property-based race checker for the Linux kernel's MMU-notifier protocol

Usage:
  mmu-race check [--kernel ERA] [--driver NAME] [--runs N] [--seed S] [--max-steps N] [--json]
  mmu-race replay TOKEN [--json]
  mmu-race eras
  mmu-race drivers
  mmu-race --help

check    Generates scenarios (a CPU thread faulting and unmapping, a reclaim thread, a device thread
         accessing memory through the driver's secondary MMU) and schedules (preemptions over a
         non-preemptive default order), runs each one on the modelled core VM of the chosen kernel
         era with the chosen notifier, and checks every invariant after every step. The first
         violation is shrunk to a minimal counterexample (fewest operations and context switches,
         1-minimal) and printed as a timeline, one column per thread, with a replay token.
           --kernel ERA     kernel era to model (default ${DEFAULT_KERNEL}; see 'mmu-race eras')
           --driver NAME    notifier implementation (default ${DEFAULT_DRIVER}; see 'mmu-race drivers')
           --runs N         scenarios x schedules to try (default ${CLI_DEFAULT_RUNS}, or MMU_RACE_RUNS)
           --seed S         fast-check seed (default ${configuredSeed()}, or MMU_RACE_SEED); same seed, same output
           --max-steps N    step budget of one execution (default ${DEFAULT_MAX_STEPS}); past it the verdict
                            is step-budget-exceeded (a livelock or runaway loop)
           --json           print one JSON object:
                            {verdict, kernel, driver, executions, seed, runs,
                             violation?: {invariant, message, steps, contextSwitches,
                                          trace: [{thread, label, source}], replay}}
replay   Re-runs the execution a token names (kernel, driver, scenario, schedule) and prints the
         same timeline, byte for byte.

Verdicts: pass, violation (an invariant failed), deadlock, step-budget-exceeded, model-error (the
notifier under test threw or misused the API).
Invariants: ${INVARIANTS.map((i) => i.name).join(', ')}.

Exit status: 0 no violation found; 1 a violation, deadlock or step-budget verdict; 2 bad input
(unknown flag, era or driver, corrupt token) or a model-error.
`;

function intFlag(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

function exitCodeOf(v: Verdict): number {
  if (v.kind === 'pass') return 0;
  if (v.kind === 'model-error') return 2;
  return 1;
}

interface JsonViolation {
  invariant: string;
  message: string;
  steps: number;
  contextSwitches: number;
  operations: number;
  trace: { thread: string; label: string; source: string; violating?: true }[];
  replay: string;
}

function violationJson(c: Case, r: ExecutionResult): JsonViolation | undefined {
  const v = r.verdict;
  if (v.kind === 'pass') return undefined;
  const t = timelineOf(c);
  return {
    invariant: verdictName(v),
    message: v.message,
    steps: r.trace.length,
    contextSwitches: r.preemptions.length,
    operations: scenarioOps(c.scenario),
    trace: t.rows.map((row) => ({ thread: t.threads[row.thread], label: row.label, source: row.source, ...(row.violating ? { violating: true as const } : {}) })),
    replay: encodeToken(c),
  };
}

function describeVerdict(v: Verdict): string {
  if (v.kind === 'pass') return 'pass';
  const inv = v.kind === 'violation' ? invariantByName(v.invariant) : undefined;
  const head = v.kind === 'violation' ? `VIOLATION ${v.invariant}${inv ? ` (${inv.title})` : ''}` : v.kind.toUpperCase();
  return `${head}\n  ${v.message}${inv ? `\n  kernel rule: ${inv.rule}` : ''}`;
}

function printCounterexample(io: Io, c: Case, r: ExecutionResult): void {
  io.out(renderTimeline(timelineOf(c), c));
  io.out('');
  io.out(describeVerdict(r.verdict));
  io.out(`  minimal counterexample: ${scenarioOps(c.scenario)} operations, ${r.preemptions.length} context switch${r.preemptions.length === 1 ? '' : 'es'}, ${r.trace.length} steps`);
  io.out('');
  io.out(`replay: mmu-race replay ${encodeToken(c)}`);
}

function cmdCheck(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({
    args,
    options: {
      kernel: { type: 'string' },
      driver: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      'max-steps': { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (notifier modules are not supported yet; use --driver)`);
  const kernel = values.kernel ?? DEFAULT_KERNEL;
  const driver = values.driver ?? DEFAULT_DRIVER;
  const target = resolve(kernel, driver); // validates both before any work
  if (!target.driver.eras.includes(kernel)) throw new UsageError(`driver '${driver}' is not written for kernel ${kernel} (it declares ${target.driver.eras.join(', ')})`);
  const runs = intFlag('runs', values.runs, configuredRuns(CLI_DEFAULT_RUNS), 1);
  const seed = intFlag('seed', values.seed, configuredSeed(), -(2 ** 31));
  const maxSteps = intFlag('max-steps', values['max-steps'], DEFAULT_MAX_STEPS, 10);
  const res: CheckResult = check({ kernel, driver, runs, seed, maxSteps });
  const cx = res.counterexample;
  if (values.json) {
    const out = {
      verdict: res.verdict.kind,
      kernel,
      driver,
      executions: res.executions,
      seed,
      runs,
      ...(cx ? { violation: violationJson(cx.case, cx.result) } : {}),
    };
    io.out(JSON.stringify(out, null, 2));
    return exitCodeOf(res.verdict);
  }
  io.out(`mmu-race check: kernel ${kernel}, driver ${driver}: ${target.driver.title}`);
  io.out(`seed ${seed}, ${runs} runs`);
  if (!cx) {
    const b = DEFAULT_BOUNDS;
    io.out(
      `no race found: ${res.executions} executions; scenarios of up to 3 threads (cpu: access/munmap, reclaim, device: access), ` +
        `up to ${b.maxOpsPerThread} operations each on ${b.pages} pages, up to 3 preemptions, step budget ${maxSteps}; ` +
        `invariants: ${INVARIANTS.map((i) => i.name).join(', ')}`,
    );
    io.out('(random search: a pass is evidence, not a proof)');
    return 0;
  }
  io.out(`race found after ${res.executions} executions (runs, shrinking and minimisation)`);
  io.out('');
  printCounterexample(io, cx.case, cx.result);
  return exitCodeOf(res.verdict);
}

function cmdReplay(args: string[], io: Io): number {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError('replay takes exactly one token');
  const c = decodeToken(positionals[0]);
  const target = resolve(c.kernel, c.driver);
  const r = runCase(c, target);
  if (values.json) {
    io.out(JSON.stringify({ verdict: r.verdict.kind, kernel: c.kernel, driver: c.driver, executions: 1, ...(r.verdict.kind !== 'pass' ? { violation: violationJson(c, r) } : {}) }, null, 2));
    return exitCodeOf(r.verdict);
  }
  io.out(`mmu-race replay: kernel ${c.kernel}, driver ${c.driver}`);
  io.out('');
  if (r.verdict.kind === 'pass') {
    io.out(renderTimeline(timelineOf(c), c));
    io.out('\npass');
    return 0;
  }
  printCounterexample(io, c, r);
  return exitCodeOf(r.verdict);
}

/** Runs the CLI; returns the exit status. */
export function run(argv: string[], io: Io = processIo): number {
  try {
    const [cmd, ...rest] = argv;
    switch (cmd) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(HELP);
        return cmd === undefined ? 2 : 0;
      case 'check':
        if (rest.includes('--help')) return io.out(HELP), 0;
        return cmdCheck(rest, io);
      case 'replay':
        return cmdReplay(rest, io);
      case 'eras':
        for (const e of ERAS) io.out(`${e.name.padEnd(10)} ${e.summary}`);
        return 0;
      case 'drivers':
        for (const d of DRIVERS) io.out(`${d.name.padEnd(24)} ${d.contract.padEnd(7)} ${d.eras.join(',').padEnd(8)} ${d.title}`);
        return 0;
      default:
        throw new UsageError(`unknown command '${cmd}' (commands: check, replay, eras, drivers; see --help)`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`mmu-race: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
}
