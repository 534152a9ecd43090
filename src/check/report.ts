// The report: grouped text with ✔/⚠/×, or JSON for scripts. Exit code 1 when anything failed.
import { docUrl } from './docs.ts';
import { GROUPS, type CheckGroup, type CheckResult, type CheckStatus } from './types.ts';

const GROUP_TITLES: Record<CheckGroup, string> = {
  kubernetes: 'Kubernetes',
  operator: 'Operator',
  rbac: 'Operator RBAC',
  gpu: 'GPU nodes',
  monitoring: 'Monitoring',
  exposure: 'Exposure',
  fleet: 'UnmuteDeployments',
};

const SYMBOLS: Record<CheckStatus, string> = { pass: '✔', warn: '⚠', fail: '×', skip: '-' };
const COLORS: Record<CheckStatus, string> = { pass: '\x1b[32m', warn: '\x1b[33m', fail: '\x1b[31m', skip: '\x1b[2m' };

export function summarize(results: CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of results) counts[r.status]++;
  return counts;
}

export const exitCode = (results: CheckResult[]): number => (results.some((r) => r.status === 'fail') ? 1 : 0);

export function renderText(results: CheckResult[], options: { color: boolean }): string {
  const paint = (s: CheckStatus, text: string) => (options.color ? `${COLORS[s]}${text}\x1b[0m` : text);
  const lines: string[] = [];
  for (const g of GROUPS) {
    const rs = results.filter((r) => r.group === g);
    if (rs.length === 0) continue;
    lines.push(GROUP_TITLES[g], '-'.repeat(GROUP_TITLES[g].length));
    for (const r of rs) {
      lines.push(`${paint(r.status, SYMBOLS[r.status])} ${r.title}: ${r.message}`);
      for (const d of r.details ?? []) lines.push(`    ${d}`);
      if (r.status === 'warn' || r.status === 'fail') {
        if (r.hint) lines.push(`    hint: ${r.hint}`);
        if (r.doc) lines.push(`    see:  ${docUrl(r.doc)}`);
      }
    }
    lines.push('');
  }
  const c = summarize(results);
  const verdict = c.fail > 0 ? paint('fail', `× ${c.fail} failed`) : c.warn > 0 ? paint('warn', '⚠ nothing failed, see the warnings') : paint('pass', '✔ all checks passed');
  lines.push(`${verdict} (${c.pass} passed, ${c.warn} warnings, ${c.fail} failed, ${c.skip} skipped)`);
  return lines.join('\n') + '\n';
}

export function renderJson(results: CheckResult[]): string {
  const checks = results.map((r) => ({ ...r, ...(r.doc ? { docUrl: docUrl(r.doc) } : {}) }));
  return JSON.stringify({ ok: exitCode(results) === 0, summary: summarize(results), checks }, null, 2) + '\n';
}
