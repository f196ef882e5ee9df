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

export type { Io };
export { CLI_DEFAULT_RUNS };

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
           --driver NAME    notifier implementation (default ${DEFAULT_DRIVER}; see 'mmu-race drivers');
                            A+B registers several on the mm (A's device is exercised), e.g. kvm+range-start-trylock
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

/** The subcommands, by name. A new command is one file in src/cli/ and one line here. */
const COMMANDS: Record<string, Command> = {
  check: cmdCheck,
  replay: cmdReplay,
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
export function run(argv: string[], io: Io = processIo): number {
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
