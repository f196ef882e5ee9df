/**
 * The report files of a finding: report.json (replay token, scenario, trace with state), report.md
 * (timeline, invariant and kernel rule) and index.html (self-contained SVG swimlane), built from a
 * real use-after-free counterexample of kvm-no-retry.
 */
import { describe, expect, it } from 'vitest';
import { runCase } from '../../src/check/case';
import { checkTarget } from '../../src/check/fuzz';
import { mirrorRaceCase } from './race-case';
import { findingOf } from '../../src/report/finding';
import { reportHtml } from '../../src/report/html';
import { REPORT_FORMAT, reportJson } from '../../src/report/json';
import { reportMarkdown } from '../../src/report/markdown';
import { decodeToken } from '../../src/schedule/token';

const c = mirrorRaceCase();
const target = checkTarget({ kernel: 'v4.13', driver: 'kvm-no-retry' });
const cx = { case: c, result: runCase(c, target) };
const finding = findingOf({ case: c, target, search: { executions: 1, seed: 0, runs: 1 } });

describe('a finding', () => {
  it('has one trace step per timeline row, each with locks, atomic depth and memory state', () => {
    expect(finding.trace.steps.length).toBe(cx.result.trace.length);
    for (const s of finding.trace.steps) {
      expect(s.held.length).toBe(finding.trace.threads.length);
      expect(s.atomic.length).toBe(finding.trace.threads.length);
      expect(Object.keys(s.memory).length).toBeGreaterThan(0);
    }
  });

  it('derives lock-held state from the lock effects: held right after spin_lock, released after spin_unlock', () => {
    const steps = finding.trace.steps;
    let acquires = 0;
    steps.forEach((s) => {
      const lock = s.label.match(/^(spin_lock|mutex_lock|down_read|down_write)\((.+)\)$/);
      const unlock = s.label.match(/^(spin_unlock|mutex_unlock|up_read|up_write)\((.+)\)$/);
      if (lock) {
        acquires++;
        expect(s.held[s.thread].map((l) => l.name)).toContain(lock[2]);
      }
      if (unlock) expect(s.held[s.thread].map((l) => l.name)).not.toContain(unlock[2]);
      if (lock?.[1] === 'spin_lock') expect(s.atomic[s.thread]).toBeGreaterThan(0);
    });
    expect(acquires).toBeGreaterThan(0);
  });

  it('marks the spte that no longer follows the PTE (or maps a freed page) at the violating step', () => {
    const v = finding.trace.steps.find((s) => s.violating)!;
    const bad = Object.entries(v.memory).filter(([, c]) => c.bad || c.stale);
    expect(bad.length).toBe(1);
    expect(bad[0][0]).toMatch(/^spte:/);
    expect(bad[0][1].text).toMatch(/page freed|stale: PTE /);
    // and the first step is clean: nothing is mapped yet
    expect(Object.values(finding.trace.steps[0].memory).some((c) => c.bad || c.stale)).toBe(false);
  });
});

describe('report.json', () => {
  const doc = JSON.parse(reportJson(finding));

  it('carries the format, the verdict, the invariant with its rule, and a token that replays the same trace', () => {
    expect(doc.format).toBe(REPORT_FORMAT);
    expect(doc.verdict.kind).toBe('violation');
    expect(doc.invariant.name).toBe(doc.verdict.invariant);
    expect(doc.invariant.rule).toMatch(/include\/linux\/mmu_notifier\.h/);
    expect(doc.replay.command).toBe(`mmu-race replay ${doc.replay.token}`);
    const again = runCase(decodeToken(doc.replay.token));
    expect(again.trace.length).toBe(doc.trace.length);
    expect(again.verdict).toEqual(cx.result.verdict);
  });

  it('has the scenario and, per step, thread, label, source, locks, atomic depth and memory', () => {
    expect(doc.scenario.threads).toEqual(cx.case.scenario.threads);
    expect(doc.scenario.preemptions).toEqual(cx.case.preemptions);
    const step = doc.trace[0];
    expect(Object.keys(step)).toEqual(expect.arrayContaining(['step', 'thread', 'label', 'source', 'held', 'atomic', 'memory']));
    expect(doc.trace.filter((s: { violating?: boolean }) => s.violating)).toHaveLength(1);
  });
});

describe('report.md', () => {
  const md = reportMarkdown(finding);
  it('states the invariant with the kernel rule, the timeline, and the replay line', () => {
    const inv = finding.invariant!;
    expect(md).toContain(`# kvm-no-retry on v4.13: violation of \`${inv.name}\``);
    expect(md).toContain(`## The rule: ${inv.name} — ${inv.title}`);
    expect(md).toContain(`> ${inv.rule}`);
    expect(md).toMatch(/^>> +\d+ /m);
    expect(md).toContain(`mmu-race replay ${finding.token}`);
  });
});

describe('index.html', () => {
  const html = reportHtml(finding);
  it('is self-contained: no external script, style, image or font', () => {
    expect(html).not.toMatch(/<(script|img|link|iframe)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/url\((?!#)/); // only in-document references (the hatch pattern)
    expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(/https?:\/\//);
  });
  it('has one lane per thread, the violating step, lock spans and atomic marks', () => {
    for (const t of finding.trace.threads) expect(html).toContain(`class="lane-head" data-thread="${t}"`);
    expect(html.match(/class="step (effect|note) violating"/g)).toHaveLength(1);
    expect(html).toMatch(/class="lock-span" data-lock="kvm-&gt;mmu_lock"/);
    expect(html).toMatch(/class="atomic"/);
    expect(html).toMatch(/class="mem mem-spte( changed)? (bad|stale)"/);
  });
});
