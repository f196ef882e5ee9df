/**
 * The worker thread of `mmu-race check`: runs one {@link CheckJob} and posts what happens to the
 * CLI's thread, which keeps the terminal (progress, Ctrl-C) and a watchdog over user code.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { UsageError } from '../runtime/errors';
import { abortFlagOf, createWatch } from '../notifier/watch';
import { runCheckJob, type CheckJob } from './check-job';
import type { WorkerMessage } from './worker-host';

interface WorkerData {
  readonly job: CheckJob;
  readonly watch: SharedArrayBuffer;
}

const { job, watch: buffer } = workerData as WorkerData;
const watch = createWatch(buffer);
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
let lastProgress = 0;

try {
  runCheckJob(
    job,
    {
      ready: (driver) => post({ type: 'ready', driver }),
      progress: (progress) => {
        const now = Date.now(); // progress display only: the model never reads the clock
        if (now - lastProgress < 100 && progress.phase === 'fuzz') return;
        lastProgress = now;
        post({ type: 'progress', progress });
      },
      outcome: (outcome) => post({ type: 'outcome', outcome }),
    },
    { watch, signal: abortFlagOf(watch) },
  );
  post({ type: 'done' });
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: 'error', usage: err instanceof UsageError, message: e.message, stack: e.stack ?? '' });
}
