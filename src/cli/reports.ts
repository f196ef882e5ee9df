/**
 * Writing a finding's report directory: `report.json`, `report.md` and `index.html`, under
 * `reports/<timestamp>-<driver>-<kernel>/` (the timestamp is the only nondeterministic part), or
 * `<dir>/<driver>-<kernel>/` with `--report-dir DIR`. The CLI is the only place that writes files.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Finding } from '../report/finding';
import { reportHtml } from '../report/html';
import { reportJson } from '../report/json';
import { reportMarkdown } from '../report/markdown';

export interface ReportPlace {
  /** `--report-dir`: the parent directory, without timestamps; default `reports/` with them. */
  readonly dir?: string;
  /** The clock, for the timestamp (injected for tests). */
  readonly now?: () => Date;
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/** A directory name that does not exist yet. */
function fresh(base: string): string {
  if (!existsSync(base)) return base;
  for (let i = 2; ; i++) if (!existsSync(`${base}-${i}`)) return `${base}-${i}`;
}

/** Writes the three files; returns the directory, relative to the working directory. */
export function writeReport(f: Finding, place: ReportPlace = {}): string {
  const leaf = `${safe(f.driver)}-${safe(f.kernel)}`;
  let dir: string;
  if (place.dir !== undefined) {
    dir = join(place.dir, leaf);
  } else {
    const stamp = (place.now ?? (() => new Date()))().toISOString().replace(/[:.]/g, '-');
    dir = fresh(join('reports', `${stamp}-${leaf}`));
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), reportJson(f));
  writeFileSync(join(dir, 'report.md'), reportMarkdown(f));
  writeFileSync(join(dir, 'index.html'), reportHtml(f));
  const rel = relative(process.cwd(), dir);
  return rel && !rel.startsWith('..') ? rel : resolve(dir);
}
