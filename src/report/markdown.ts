/**
 * `report.md`: a finding for a mailing-list post or an issue — what broke, the kernel rule it
 * breaks, the interleaving as the text timeline, and the line that replays it.
 */
import { replayCommand, type Finding } from './finding';
import { sizeText } from './text';
import { renderTimeline } from './timeline';

/** The Markdown document of a finding (`report.md`). */
export function reportMarkdown(f: Finding): string {
  const v = f.verdict;
  const what = v.kind === 'violation' ? `violation of \`${v.invariant}\`` : `\`${v.kind}\``;
  const out = [
    `# ${f.driver} on ${f.kernel}: ${what}`,
    '',
    `**Driver:** \`${f.driver}\` (${f.contract}) — ${f.title}${f.module ? `  \n**Module:** \`${f.module}\`` : ''}  `,
    `**Kernel era:** ${f.kernel}  `,
    `**Scenario:** \`${f.scenario}\`  `,
    `**Size:** ${sizeText(f.timeline, f.case)}${f.search ? `, found after ${f.search.executions} executions (seed ${f.search.seed}, ${f.search.runs} runs)` : ''}`,
    '',
    '## What went wrong',
    '',
    v.kind === 'pass' ? 'Nothing: this execution passes.' : v.message,
    '',
  ];
  if (f.invariant) {
    out.push(`## The rule: ${f.invariant.name} — ${f.invariant.title}`, '', `> ${f.invariant.rule}`, '');
  }
  out.push('## Timeline', '', 'One column per thread; `>>` marks the violating step; the state after each step on the right.', '', '```', renderTimeline(f.timeline, f.case), '```', '');
  out.push('## Replay', '', '```sh', replayCommand(f), '```', '');
  return out.join('\n');
}
