/**
 * The HTML report in a real browser: `mmu-race replay --report-dir` writes index.html for a
 * use-after-free counterexample of kvm-no-retry, headless
 * Chromium (Debian's, driven by playwright-core; no browser is downloaded) opens it from disk with the
 * network cut off, and the test reads the DOM: one lane per thread, the violating step rendered and in
 * view, the freed page marked, lock spans and atomic context drawn. The screenshot stays under
 * reports/screenshots/ as the test's artefact.
 *
 * Skipped, saying so, when Chromium is absent (.ci/run installs it: apt-get install chromium).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, type Io } from '../../src/cli/main';
import { encodeToken } from '../../src/schedule/token';
import { mirrorRaceCase } from './race-case';

const ROOT = join(__dirname, '..', '..');

function findChromium(): string | null {
  if (process.env.MMU_RACE_CHROMIUM) return process.env.MMU_RACE_CHROMIUM;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
    } catch {
      /* not this one */
    }
  }
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : null;
}

const chromium = findChromium();

if (!chromium) {
  describe('index.html in headless Chromium', () => {
    it.skip('SKIPPED: Chromium is not installed (apt-get install -y chromium; .ci/run does this), so the HTML report was not rendered', () => {});
  });
} else {
  describe('index.html in headless Chromium', () => {
    it('renders one lane per thread and the violation, from disk, with no network', async () => {
      const { chromium: driver } = await import('playwright-core');
      const out = mkdtempSync(join(tmpdir(), 'mmu-race-html-'));
      const profile = mkdtempSync(join(tmpdir(), 'mmu-race-chromium-'));
      try {
        const lines: string[] = [];
        const io: Io = { out: (t) => lines.push(t), err: (t) => lines.push(t) };
        expect(run(['replay', encodeToken(mirrorRaceCase()), '--report-dir', out], io)).toBe(1);
        const dir = join(out, 'kvm-no-retry-v4.13');
        const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
        const violating = report.trace.find((s: { violating?: boolean }) => s.violating).step;

        const context = await driver.launchPersistentContext(profile, {
          executablePath: chromium,
          headless: true,
          viewport: { width: 1600, height: 1000 },
          args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        });
        try {
          const page = await context.newPage();
          const requests: string[] = [];
          const errors: string[] = [];
          page.on('request', (r) => requests.push(r.url()));
          page.on('pageerror', (e) => errors.push(e.message));
          page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
          await context.route(/^https?:/, (route) => route.abort());
          await page.goto('file://' + join(dir, 'index.html'));
          await page.waitForLoadState('load');

          const lanes = await page.$$eval('.lane-head', (els) => els.map((e) => e.getAttribute('data-thread')));
          expect(lanes).toEqual(report.threads);
          for (const lane of await page.$$('.lane-head')) expect((await lane.boundingBox())!.width).toBeGreaterThan(100);

          const v = page.locator('.step.violating');
          await expect(v.count()).resolves.toBe(1);
          expect(await v.getAttribute('data-step')).toBe(String(violating));
          const box = (await v.boundingBox())!;
          expect(box.width).toBeGreaterThan(100);
          expect(box.y).toBeGreaterThanOrEqual(0); // scrolled into view on load
          expect(box.y + box.height).toBeLessThanOrEqual(1000);
          const stroke = await v.locator('.box').evaluate((e) => (globalThis as unknown as { getComputedStyle(x: unknown): { stroke: string } }).getComputedStyle(e).stroke);
          expect(stroke).toBe('rgb(207, 34, 46)');
          expect(await page.locator('.mem.bad, .mem.stale').count()).toBeGreaterThanOrEqual(1);
          expect(await page.locator('.lock-span[data-lock="kvm->mmu_lock"]').count()).toBeGreaterThanOrEqual(1);
          expect(await page.locator('.atomic').count()).toBeGreaterThanOrEqual(1);
          expect(await page.locator('#message').textContent()).toBe(report.verdict.message);
          const title = await page.locator('.step.violating > title').textContent();
          expect(title).toMatch(/\nsource: \S+ .+ v4\.13/);

          mkdirSync(join(ROOT, 'reports', 'screenshots'), { recursive: true });
          const shot = join(ROOT, 'reports', 'screenshots', 'kvm-no-retry-v4.13.png');
          await page.screenshot({ path: shot });
          expect(readFileSync(shot).length).toBeGreaterThan(10_000);

          expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
          expect(errors).toEqual([]);
        } finally {
          await context.close();
        }
      } finally {
        rmSync(out, { recursive: true, force: true });
        rmSync(profile, { recursive: true, force: true });
      }
    });
  });
}
