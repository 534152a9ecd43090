// The command as a user runs it: flag errors exit 2, an unreachable cluster is a failed check (exit 1).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

function check(args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'src/cli/main.ts'), 'check', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function unreachableKubeconfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'check-cli-'));
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]',
      'users: [{name: u, user: {token: x}}]',
      'contexts: [{name: x, context: {cluster: c, user: u, namespace: team}}]',
      'current-context: x',
    ].join('\n'),
  );
  return path;
}

describe('unmute-operator check', () => {
  it('refuses bad flags with exit 2', () => {
    expect(check(['--output', 'yaml']).code).toBe(2);
    expect(check(['--namespace', 'Not_A_Namespace']).code).toBe(2);
    const unknown = check(['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
  });

  it('prints its usage', () => {
    const r = check(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exit status');
  });

  it('reports an unreachable API server as a failed check, and still checks the file offline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'check-cli-'));
    const cr = join(dir, 'cr.yaml');
    writeFileSync(cr, 'apiVersion: unmute.sh/v1alpha1\nkind: UnmuteDeployment\nmetadata: {name: demo}\nspec: {backend: {image: x}}\n');
    const r = check(['--kubeconfig', unreachableKubeconfig(), '-o', 'json', '-f', cr, '--request-timeout', '3']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: { id: string; status: string; fleet?: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['kubernetes.reachable', 'fail'],
      ['fleet.schema', 'fail'],
    ]);
    // The kubeconfig context's namespace applies to a CR without one.
    expect(report.checks[1]!.fleet).toBe('team/demo');
  });
});
