/** Output channels of the CLI (injected, so tests capture them). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};

/**
 * A subcommand: parses its own arguments (throwing UsageError on bad ones) and returns the exit
 * status — at once, or as a promise when it must stay responsive while it works (a check in a worker).
 */
export type Command = (args: string[], io: Io) => number | Promise<number>;
