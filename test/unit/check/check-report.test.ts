import { describe, expect, it } from 'vitest';
import { exitCode, renderJson, renderText } from '../../../src/check/report.ts';
import type { CheckResult } from '../../../src/check/types.ts';

const results: CheckResult[] = [
  { group: 'kubernetes', id: 'kubernetes.version', title: 'Kubernetes 1.29 or newer', status: 'pass', message: 'API server v1.31.0' },
  { group: 'gpu', id: 'gpu.nodes', title: 'GPU nodes advertise nvidia.com/gpu', status: 'fail', message: 'no node advertises nvidia.com/gpu', hint: 'install the device plugin', doc: 'docs/getting-started.md#gpu-nodes' },
  { group: 'monitoring', id: 'monitoring.crds', title: 'prometheus-operator CRDs', status: 'warn', message: 'not served', details: ['a', 'b'] },
];

describe('the report', () => {
  it('groups results with a symbol each, hints and doc links only for problems', () => {
    const text = renderText(results, { color: false });
    expect(text).toContain('Kubernetes\n----------\n✔ Kubernetes 1.29 or newer: API server v1.31.0\n');
    expect(text).toContain('× GPU nodes advertise nvidia.com/gpu: no node advertises nvidia.com/gpu\n    hint: install the device plugin\n    see:  https://github.com/unmute-operator/unmute-operator/blob/main/docs/getting-started.md#gpu-nodes\n');
    expect(text).toContain('⚠ prometheus-operator CRDs: not served\n    a\n    b\n');
    expect(text.indexOf('GPU nodes\n')).toBeLessThan(text.indexOf('Monitoring\n'));
    expect(text.trimEnd().split('\n').at(-1)).toBe('× 1 failed (1 passed, 1 warnings, 1 failed, 0 skipped)');
    expect(text).not.toContain('\x1b[');
  });

  it('colours only when asked', () => {
    expect(renderText(results, { color: true })).toContain('\x1b[31m×\x1b[0m');
  });

  it('exits 1 on any failure, 0 with warnings only', () => {
    expect(exitCode(results)).toBe(1);
    expect(exitCode(results.filter((r) => r.status !== 'fail'))).toBe(0);
  });

  it('gives scripts a stable JSON shape', () => {
    const json = JSON.parse(renderJson(results)) as { ok: boolean; summary: Record<string, number>; checks: (CheckResult & { docUrl?: string })[] };
    expect(json.ok).toBe(false);
    expect(json.summary).toEqual({ pass: 1, warn: 1, fail: 1, skip: 0 });
    expect(json.checks[1]).toMatchObject({ id: 'gpu.nodes', status: 'fail', docUrl: 'https://github.com/unmute-operator/unmute-operator/blob/main/docs/getting-started.md#gpu-nodes' });
  });
});
