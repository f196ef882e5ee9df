/**
 * Runs a check job in a worker thread and stays responsive meanwhile: it forwards progress and
 * results as they come, turns the first Ctrl-C into a request to stop (the check returns what it has,
 * so every finding so far is still printed and written) and a second one into a hard stop, and — for
 * a user's module — watches the heartbeat of user code and terminates a callback that runs longer
 * than the time budget without yielding, naming it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CheckProgress } from '../check/fuzz';
import { PACKAGE_ROOT } from '../notifier/compile';
import { WATCH_ABORT, WATCH_CALLBACK, WATCH_HEARTBEAT, WATCH_PHASE, WATCH_PHASES, createWatch } from '../notifier/watch';
import { InternalError } from '../runtime/errors';
import type { CheckJob, CheckOutcome, DriverInfo } from './check-job';

/** Messages from the worker. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly driver: DriverInfo }
  | { readonly type: 'progress'; readonly progress: CheckProgress }
  | { readonly type: 'outcome'; readonly outcome: CheckOutcome }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly usage: boolean; readonly message: string; readonly stack: string };

/** How a worker run ended. */
export type WorkerEnd =
  | { readonly kind: 'done'; readonly interrupted: boolean }
  | { readonly kind: 'error'; readonly usage: boolean; readonly message: string; readonly stack: string }
  | { readonly kind: 'timeout'; readonly seconds: number; readonly callback?: string; readonly phase: string }
  | { readonly kind: 'killed' };

export interface WorkerCallbacks {
  ready(d: DriverInfo): void;
  progress(p: CheckProgress): void;
  outcome(o: CheckOutcome): void;
  /** The first Ctrl-C: the check is asked to stop. */
  interrupting(): void;
  /** Output the user's code printed (console.log), to show on stderr. */
  userOutput(chunk: string): void;
}

export interface WorkerOptions {
  /** Time budget without a step of user code, in ms; none for built-in drivers. */
  readonly timeoutMs?: number;
}

/** The compiled worker script (tests run the sources, whose worker is the built one). */
function workerScript(): string {
  const here = join(__dirname, 'check-worker.js');
  if (existsSync(here)) return here;
  const built = join(PACKAGE_ROOT, 'dist', 'cli', 'check-worker.js');
  if (existsSync(built)) return built;
  throw new InternalError('dist/cli/check-worker.js is missing: run `npm run build`');
}

/** Runs `job` in a worker thread; resolves when it ends, however it ends (never rejects). */
export function runInWorker(job: CheckJob, cb: WorkerCallbacks, opts: WorkerOptions = {}): Promise<WorkerEnd> {
  const watch = createWatch();
  const worker = new Worker(workerScript(), { workerData: { job, watch: watch.buffer }, stdout: true, stderr: true });
  worker.stdout.setEncoding('utf8').on('data', cb.userOutput);
  worker.stderr.setEncoding('utf8').on('data', cb.userOutput);
  let callbacks: readonly string[] = [];
  let interrupted = false;

  return new Promise<WorkerEnd>((resolveEnd) => {
    let ended = false;
    /** Why the host is terminating the worker (its 'exit' then reports this, not a crash). */
    let stopping: WorkerEnd | null = null;
    const stop = (why: WorkerEnd) => {
      stopping = why;
      void worker.terminate();
    };
    const end = (e: WorkerEnd) => {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      process.removeListener('SIGINT', onSigint);
      resolveEnd(e);
    };
    const onSigint = () => {
      if (interrupted) {
        stop({ kind: 'killed' });
        return;
      }
      interrupted = true;
      Atomics.store(watch, WATCH_ABORT, 1);
      cb.interrupting();
    };
    process.on('SIGINT', onSigint);

    let beat = -1;
    let beatAt = Date.now();
    const timer = setInterval(() => {
      if (opts.timeoutMs === undefined) return;
      const now = Date.now();
      const h = Atomics.load(watch, WATCH_HEARTBEAT);
      if (h !== beat) {
        beat = h;
        beatAt = now;
        return;
      }
      if (now - beatAt < opts.timeoutMs) return;
      const running = Atomics.load(watch, WATCH_CALLBACK);
      const phase = WATCH_PHASES[Atomics.load(watch, WATCH_PHASE)] ?? 'starting';
      stop({ kind: 'timeout', seconds: opts.timeoutMs! / 1000, phase, ...(running > 0 ? { callback: callbacks[running - 1] } : {}) });
    }, Math.max(20, Math.min(250, (opts.timeoutMs ?? 1000) / 5)));

    worker.on('message', (m: WorkerMessage) => {
      switch (m.type) {
        case 'ready':
          callbacks = m.driver.callbacks;
          cb.ready(m.driver);
          break;
        case 'progress':
          cb.progress(m.progress);
          break;
        case 'outcome':
          cb.outcome(m.outcome);
          break;
        case 'done':
          end({ kind: 'done', interrupted });
          break;
        case 'error':
          end({ kind: 'error', usage: m.usage, message: m.message, stack: m.stack });
          break;
      }
    });
    worker.on('error', (err) => end({ kind: 'error', usage: false, message: err.message, stack: err.stack ?? '' }));
    worker.on('exit', (code) => {
      if (stopping) end(stopping);
      else end(code === 0 ? { kind: 'done', interrupted } : { kind: 'error', usage: false, message: `the check's worker exited with status ${code}`, stack: '' });
    });
  });
}
