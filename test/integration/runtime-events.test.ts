// Events recorded through the runtime must pass the API server's events.k8s.io/v1 validation,
// including the series update of a repeated event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { EventRecorder } from '../../src/runtime/events.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { createNamespace } from '../support/cluster.ts';
import { aKubeClient } from './runtime-support.ts';

describe('event recorder against the API server', () => {
  let client: KubeClient;
  let namespace = '';

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('rt-events');
  });
  afterAll(async () => {
    await client.close();
  });

  it('creates an Event and bumps its series on a repeat', async () => {
    const regarding = await client.create<KubeObject>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'subject', namespace } });
    const recorder = new EventRecorder({ sink: client, reportingController: 'unmute.sh/operator', reportingInstance: 'test-pod', clock: systemClock(), logger: silentLogger() });
    recorder.event(regarding, 'Warning', 'GpuBudgetExceeded', 'tts needs 4 GPUs, 2 left', { action: 'ScaleUp' });
    await recorder.flush();
    recorder.event(regarding, 'Warning', 'GpuBudgetExceeded', 'tts needs 4 GPUs, 2 left', { action: 'ScaleUp' });
    await recorder.flush();
    const events = await client.list({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace });
    expect(events.items).toHaveLength(1);
    expect(events.items[0]).toMatchObject({
      reason: 'GpuBudgetExceeded',
      type: 'Warning',
      note: 'tts needs 4 GPUs, 2 left',
      regarding: { kind: 'ConfigMap', name: 'subject', uid: regarding.metadata.uid },
      series: { count: 2 },
    });
  });
});
