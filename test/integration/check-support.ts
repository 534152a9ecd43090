// Runs `unmute-operator check` as a user would, against the run's cluster, and parses its JSON.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { clusterInfo } from '../support/cluster.ts';

const root = join(import.meta.dirname, '..', '..');

const reportSchema = z.object({
  ok: z.boolean(),
  summary: z.object({ pass: z.number(), warn: z.number(), fail: z.number(), skip: z.number() }),
  checks: z.array(
    z.object({
      group: z.string(),
      id: z.string(),
      title: z.string(),
      status: z.enum(['pass', 'warn', 'fail', 'skip']),
      message: z.string(),
      hint: z.string().optional(),
      doc: z.string().optional(),
      docUrl: z.string().optional(),
      fleet: z.string().optional(),
      details: z.array(z.string()).optional(),
    }),
  ),
});
export type Report = z.infer<typeof reportSchema>;
export type ReportCheck = Report['checks'][number];

/** `check -o json` with the run's admin kubeconfig; resolves with the exit code and the parsed report. */
export async function runCheck(args: string[] = []): Promise<{ code: number; report: Report; stderr: string }> {
  const argv = [join(root, 'src/cli/main.ts'), 'check', '--kubeconfig', clusterInfo().kubeconfig, '-o', 'json', ...args];
  let stdout = '';
  let stderr = '';
  let code = 0;
  try {
    ({ stdout, stderr } = await promisify(execFile)(process.execPath, argv, { timeout: 120_000, maxBuffer: 16 << 20 }));
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    code = typeof e.code === 'number' ? e.code : -1;
    stdout = e.stdout ?? '';
    stderr = e.stderr ?? '';
  }
  const parsed = reportSchema.safeParse(JSON.parse(stdout || 'null'));
  if (!parsed.success) throw new Error(`check printed no report (exit ${code}): ${stderr}\n${stdout.slice(0, 2000)}`);
  return { code, report: parsed.data, stderr };
}

/** The checks with `id` (for one fleet, when given). */
export function checksOf(report: Report, id: string, fleet?: string): ReportCheck[] {
  return report.checks.filter((c) => c.id === id && (fleet === undefined || c.fleet === fleet));
}

export function theCheck(report: Report, id: string, fleet?: string): ReportCheck {
  const found = checksOf(report, id, fleet);
  if (found.length !== 1) throw new Error(`expected one ${id}${fleet ? ` for ${fleet}` : ''}, got ${found.length}:\n${JSON.stringify(report.checks, null, 2)}`);
  return found[0]!;
}

export function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'check-it-')), name);
  writeFileSync(path, text);
  return path;
}
