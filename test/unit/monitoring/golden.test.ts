// Golden files: the sample fleets rendered with every cluster capability. Regenerate with
// `npx vitest run --project unit test/unit/monitoring/golden.test.ts -u` and review the diff.
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { renderMonitoring } from '../../../src/monitoring/index.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { everything, podMonitorSample, sample } from '../../support/monitoring.ts';

function toYaml(objs: KubeObject[]): string {
  return objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

describe('golden monitoring objects', () => {
  it('renders the sample fleet', async () => {
    await expect(toYaml(renderMonitoring(sample(), everything))).toMatchFileSnapshot('../../golden/monitoring-sample.yaml');
  });

  it('renders the PodMonitor sample fleet', async () => {
    await expect(toYaml(renderMonitoring(podMonitorSample(), everything))).toMatchFileSnapshot('../../golden/monitoring-podmonitor.yaml');
  });
});
