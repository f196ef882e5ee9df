/**
 * The command line. The only place that prints; everything else returns values.
 * Exit status: 0 no violation found, 1 violation found, 2 bad input (or a notifier that threw).
 */
import { configuredSeed } from '../check/budget';
import { DEFAULT_MAX_STEPS } from '../check/case';
import { DRIVERS } from '../drivers';
import { ERAS } from '../eras';
import { INVARIANTS } from '../invariants';
import { UsageError } from '../runtime/errors';
import { CLI_DEFAULT_RUNS, DEFAULT_DRIVER, DEFAULT_KERNEL, cmdCheck } from './check';
import { processIo, type Command, type Io } from './io';
import { cmdReplay } from './replay';
import { cmdExplore } from './explore';
import { cmdMatrix } from './matrix';

export type { Io };
export { CLI_DEFAULT_RUNS };

export const HELP = `mmu-race: a property-based race checker for the Linux kernel's MMU-notifier protocol

Usage:
  mmu-race check [./notifier.ts | --driver NAME] [--kernel ERAS|all] [--draw-era] [--runs N] [--seed S] [--json] [options]
  mmu-race explore [--driver NAME] [--kernel ERA] [--scenario NAME|FILE] [--max-preemptions N] [--json]
  mmu-race replay TOKEN [--module ./notifier.ts] [--report] [--json]
  mmu-race matrix [--eras E1,E2] [--drivers D1,D2] [--runs N] [--seed S] [--json] [--html FILE]
  mmu-race eras
  mmu-race drivers
  mmu-race --help

check    Generates scenarios (a CPU thread faulting and unmapping, a reclaim thread, the OOM reaper,
         a device thread accessing memory through the driver's secondary MMU) and schedules
         (preemptions over a non-preemptive default order), runs each one on the modelled core VM of
         the kernel era with the notifier, and checks every invariant after every step. The first
         violation is shrunk to a minimal counterexample (fewest operations and context switches,
         1-minimal), printed as a timeline, one column per thread, with its replay line, and written
         to reports/<timestamp>-<driver>-<kernel>/ (index.html, report.md, report.json).
           ./notifier.ts    your notifier module (export default defineNotifier({...}), see
                            docs/writing-a-notifier.md): type-checked, then checked on every era it
                            declares (or --kernel) in a worker thread
           --kernel ERAS    kernel era(s) to model: one, a comma list, or 'all' (default: the module's
                            eras; ${DEFAULT_KERNEL} for --driver); several are checked each in turn
           --also OPS       draw operations the default leaves out: unregister (the device's
                            mmu_notifier_unregister), file (a MAP_SHARED file VMA with writeback),
                            dax (that file on DAX with huge PMDs: catalogue B3), aging (reclaim's
                            page_referenced pass: ->clear_flush_young)
           --draw-era       with several eras, one fuzzing campaign that draws the era per run (with
                            only the operations that era has); shrinking prefers the oldest era
           --driver NAME    a built-in notifier (default ${DEFAULT_DRIVER}; see 'mmu-race drivers');
                            A+B registers several on the mm (A's device is exercised), e.g. kvm+range-start-trylock
           --runs N         scenarios x schedules to try per era (default ${CLI_DEFAULT_RUNS}, or MMU_RACE_RUNS)
           --seed S         fast-check seed (default ${configuredSeed()}, or MMU_RACE_SEED); same seed, same output
           --max-steps N    step budget of one execution (default ${DEFAULT_MAX_STEPS}); past it the verdict
                            is step-budget-exceeded (a livelock or runaway loop)
           --mode MODE      fuzz (default), or exhaustive: every schedule within 2 preemptions of the
                            catalogue's spine scenarios (a pass is a proof within those bounds)
           --timeout S      seconds a module's callback may run without yielding an effect (default 10)
           --transpile-only skip the module's type-check (syntax errors are still reported)
           --report-dir DIR write reports to DIR/<driver>-<kernel>/ (no timestamp); --no-report: none
           --json           print one JSON object:
                            {verdict, kernel, driver, executions, seed, runs, coverage,
                             violation?: {invariant, message, steps, contextSwitches, operations,
                                          trace: [{thread, label, source}], replay},
                             report?, module?, results?: [the same, one per era]}
         Progress goes to stderr: a bar on a terminal, a line every 5 s otherwise (NO_COLOR honoured).
         Ctrl-C stops the check and still prints and writes every finding so far (exit 130 if none).
matrix   Checks every driver in every era it exists in and prints the verdicts beside what kernel
         history says (src/matrix/history.ts, each cell with its source); exit 1 if any certain
         cell differs from history. Default 5000 runs per cell. --html FILE writes a self-contained
         page: cells coloured by outcome, the source on hover, replay lines for violations.
explore  Exhaustive mode: runs every schedule of a scenario with at most N preemptions (CHESS's
         iterative context bounding: 0, 1, … N, so a violation comes with the fewest preemptions
         the search can give), re-running the program from the start for each, and skips a schedule
         once it reaches a state (happens-before trace and running thread) already explored with
         as many preemptions left. A pass that says "complete within bounds" is a proof: no schedule
         within the bounds violates an invariant. A violation is 1-minimised and printed as check
         prints it, with its replay line.
           --scenario S     a catalogue scenario (fault-vs-munmap, fault-vs-reclaim, cow-vs-device,
                            device-write-vs-reclaim, munmap-vs-reclaim) or a JSON scenario file
                            ({"threads": [{"kind": "cpu", "ops": [...]}, ...]}); default: the spine
                            scenarios (fault-vs-munmap, fault-vs-reclaim, cow-vs-device)
           --max-preemptions N  preemption bound (default 2); switches where the running thread
                            blocks, finishes or does cpu_relax are free
           --max-steps N    steps per execution (default ${DEFAULT_MAX_STEPS}); an execution that reaches it
                            makes the result incomplete
           --max-executions N  budget of executions (default 1000000); running out is incomplete
           --json           {verdict, kernel, driver, executions, complete, scenarios: [{scenario,
                             verdict, executions, pruned, bounds, preemptionsExplored,
                             cutByPreemptions, complete, cutBy?, wallMs, foundAtBound?, violation?}]}
replay   Re-runs the execution a token names (kernel, driver, scenario, schedule) and prints the
         same timeline, byte for byte. A token of a user's notifier needs --module FILE (the check
         prints the whole line). --report writes the report directory (--report-dir DIR as for check).

Verdicts: pass, violation (an invariant failed), deadlock, step-budget-exceeded, model-error (the
notifier under test threw or misused the API).
Invariants: ${INVARIANTS.map((i) => i.name).join(', ')}.

Exit status: 0 no violation found; 1 a violation, deadlock or step-budget verdict; 2 bad input
(unknown flag, era or driver, corrupt token, a module that does not compile or has the wrong shape,
a callback that loops without yielding) or a model-error; 130 interrupted before finding anything.
`;

/** The subcommands, by name. A new command is one file in src/cli/ and one line here. */
const COMMANDS: Record<string, Command> = {
  check: cmdCheck,
  replay: cmdReplay,
  explore: cmdExplore,
  matrix: cmdMatrix,
  eras: (_args, io) => {
    for (const e of ERAS) io.out(`${e.name.padEnd(10)} ${e.summary}`);
    return 0;
  },
  drivers: (_args, io) => {
    for (const d of DRIVERS) io.out(`${d.name.padEnd(24)} ${d.contract.padEnd(7)} ${d.eras.join(',').padEnd(26)} ${d.title}`);
    return 0;
  },
};

/** Runs the CLI; returns the exit status. */
export function run(argv: string[], io: Io = processIo): number | Promise<number> {
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help' || rest.includes('--help')) {
      io.out(HELP);
      return cmd === undefined ? 2 : 0;
    }
    const command = COMMANDS[cmd];
    if (!command) throw new UsageError(`unknown command '${cmd}' (commands: ${Object.keys(COMMANDS).join(', ')}; see --help)`);
    return command(rest, io);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`mmu-race: ${(err as Error).message}`);
      return 2;
    }
    throw err;
  }
}
