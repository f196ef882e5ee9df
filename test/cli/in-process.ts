import { run, type Io } from '../../src/cli/main';

/** Runs the CLI in this process with captured output (a built-in driver's check runs synchronously here). */
export function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t) };
  const code = run(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
