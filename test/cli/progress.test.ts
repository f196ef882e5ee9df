/**
 * Progress on stderr: plain lines (not a terminal) only once a run is long, a cli-progress bar on a
 * terminal with executions/s and violations, colour only on a terminal without NO_COLOR; and the
 * real CLI under a pseudo-terminal (`script`), and Ctrl-C.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressView } from '../../src/cli/progress';
import type { CheckProgress } from '../../src/check/fuzz';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'mmu-race.js');

function sink(tty: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(c, _e, cb) {
        chunks.push(String(c));
        cb();
      },
    }),
    tty ? { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true } : {},
  );
  return { stream, text: () => chunks.join('') };
}

const p = (executions: number, phase: CheckProgress['phase'] = 'fuzz'): CheckProgress => ({ kernel: 'v4.13', driver: 'gpu', phase, executions, runs: 100000 });

describe('plain progress lines', () => {
  it('say nothing for a short run, then a line every few seconds with executions/s', () => {
    let now = 0;
    const s = sink(false);
    const view = progressView({ stream: s.stream, env: {}, now: () => now, plainEvery: 5 });
    view.update(p(0), 0);
    now = 4000;
    view.update(p(40000), 0);
    expect(s.text()).toBe('');
    now = 6000;
    view.update(p(60000), 0);
    expect(s.text()).toBe('mmu-race: v4.13 gpu: fuzzing, 60000/100000 executions, 10000/s, 0 violations so far\n');
    now = 6500;
    view.update(p(61000, 'shrink'), 1);
    expect(s.text()).toMatch(/race found, shrinking, 61000\/100000 executions, \d+\/s, 1 violation so far\n$/);
  });
});

describe('the bar on a terminal', () => {
  it('shows executions, executions/s and violations, in red unless NO_COLOR', () => {
    for (const [env, red] of [[{}, true], [{ NO_COLOR: '1' }, false]] as const) {
      let now = 0;
      const s = sink(true);
      const view = progressView({ stream: s.stream, env, now: () => now });
      view.update(p(0), 0);
      now = 2000;
      view.update(p(50000, 'shrink'), 1);
      view.stop();
      const text = s.text();
      expect(text).toMatch(/v4\.13 race found, shrinking \[.*\] 50000\/100000 executions \| 25000\/s \| /);
      expect(text.includes('\x1b[31m1 violation\x1b[39m')).toBe(red);
      expect(text).toContain('1 violation');
    }
  });
});

function hasScript(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the CLI', () => {
  it.runIf(hasScript())('draws the bar on a pseudo-terminal (script(1))', async () => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} check examples/gpu-seqcount.ts --kernel v4.13 --runs 6000 --no-report`;
    const out = await new Promise<string>((done) =>
      execFile('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } }, (_e, stdout) => done(stdout)),
    );
    expect(out).toMatch(/v4\.13 fuzzing \[[█░=\- ]*\] \d+\/6000 executions \| \d+\/s \| 0 violations/);
    expect(out).toMatch(/no race found: 6000 executions/);
  });

  it('stops cleanly on Ctrl-C (SIGINT): what was covered so far, exit 130', async () => {
    const child = spawn(process.execPath, [BIN, 'check', 'examples/gpu-seqcount.ts', '--runs', '50000000', '--no-report'], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    // Wait until the check runs (its header is printed once the worker has validated the module).
    await new Promise<void>((ready) => {
      const poll = setInterval(() => {
        if (out.includes('runs per era')) {
          clearInterval(poll);
          setTimeout(ready, 800);
        }
      }, 50);
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect(code).toBe(130);
    expect(err).toMatch(/stopping after the current execution; every finding so far is reported/);
    expect(out).toMatch(/^interrupted: no race found so far in \d+ executions; scenario families/m);
    expect(err).toMatch(/interrupted \(Ctrl-C\); 1 result reported/);
  });
});
