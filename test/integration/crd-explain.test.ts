// `kubectl explain` on the installed CRD shows the field descriptions written in the zod schema.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { binDir } from '../../scripts/cluster/config.ts';
import { clusterInfo } from '../support/cluster.ts';

const kubectl = join(binDir(), 'kubectl');

async function explain(path: string): Promise<string> {
  if (!existsSync(kubectl)) throw new Error(`${kubectl} is missing: run \`npm run cluster:build\` (it builds kubectl with the control plane)`);
  const { stdout } = await promisify(execFile)(kubectl, ['--kubeconfig', clusterInfo().kubeconfig, 'explain', path], { timeout: 60_000 });
  return stdout.replace(/\s+/g, ' ');
}

describe('kubectl explain unmutedeployment', () => {
  it('prints the descriptions of spec.autoscaling and its fields', async () => {
    const out = await explain('unmutedeployment.spec.autoscaling');
    expect(out).toContain('Session-aware autoscaling.');
    for (const text of [
      'targetSessionsPerPod',
      'Sessions per backend the fleet aims for; below maxSessionsPerPod so a rush finds free slots.',
      'scaleDownStabilizationSeconds',
      'metrics',
      'Where the live session counts come from.',
    ]) {
      expect(out).toContain(text);
    }
  });

  it('describes a field that had none before (spec.exposure.gateway.parentRefs.sectionName)', async () => {
    expect(await explain('umd.spec.exposure.gateway.parentRefs.sectionName')).toContain('Listener of the Gateway to attach to; all listeners when unset.');
  });
});
