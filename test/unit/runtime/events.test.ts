import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.ts';
import { KubeApiError } from '../../../src/runtime/errors.ts';
import { EventRecorder, type EventSink } from '../../../src/runtime/events.ts';
import type { PatchType } from '../../../src/runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../../../src/runtime/object.ts';
import { FakeClock } from './support/fake-clock.ts';
import { captureLogs } from './support/log-capture.ts';

class RecordingSink implements EventSink {
  readonly created: KubeObject[] = [];
  readonly patched: Array<{ name: string; patch: unknown; type: PatchType }> = [];
  expired = new Set<string>();
  async create<T extends KubeObject>(obj: T): Promise<T> {
    this.created.push(obj);
    return obj;
  }
  async patch(_ref: TypeRef, name: string, _ns: string | undefined, patch: unknown, type: PatchType): Promise<KubeObject> {
    if (this.expired.has(name)) throw new KubeApiError({ code: 404, reason: 'NotFound', message: 'not found' });
    this.patched.push({ name, patch, type });
    return { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name } };
  }
}

const fleet: KubeObject = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', metadata: { name: 'fleet', namespace: 'voice', uid: 'u-1' } };

function aRecorder(options: { burst?: number } = {}) {
  const clock = new FakeClock();
  const sink = new RecordingSink();
  const recorder = new EventRecorder({ sink, clock, logger: silentLogger(), reportingController: 'unmute.sh/operator', reportingInstance: 'pod-1', ...options });
  return { clock, sink, recorder };
}

describe('event recorder', () => {
  it('creates an events.k8s.io/v1 Event about the regarding object', async () => {
    const { recorder, sink, clock } = aRecorder();
    recorder.event(fleet, 'Warning', 'GpuBudgetExceeded', 'tts needs 4 GPUs, 2 left', { action: 'ScaleUp' });
    await recorder.flush();
    expect(sink.created).toHaveLength(1);
    expect(sink.created[0]).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: 'voice' },
      type: 'Warning',
      reason: 'GpuBudgetExceeded',
      note: 'tts needs 4 GPUs, 2 left',
      action: 'ScaleUp',
      reportingController: 'unmute.sh/operator',
      reportingInstance: 'pod-1',
      eventTime: new Date(clock.now()).toISOString().replace('Z', '000Z'),
      regarding: { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name: 'fleet', namespace: 'voice', uid: 'u-1' },
    });
    expect(sink.created[0]?.metadata.name).toMatch(/^fleet\.[0-9a-f]+$/);
  });

  it('bumps series.count for a repeat within ten minutes instead of creating another Event', async () => {
    const { recorder, sink, clock } = aRecorder();
    recorder.event(fleet, 'Normal', 'ScaledUp', 'backend 2 -> 3');
    await clock.advance(60_000);
    recorder.event(fleet, 'Normal', 'ScaledUp', 'backend 2 -> 3');
    await clock.advance(60_000);
    recorder.event(fleet, 'Normal', 'ScaledUp', 'backend 2 -> 3');
    await recorder.flush();
    expect(sink.created).toHaveLength(1);
    expect(sink.patched.map((p) => p.patch)).toEqual([
      { series: { count: 2, lastObservedTime: new Date(clock.now() - 60_000).toISOString().replace('Z', '000Z') } },
      { series: { count: 3, lastObservedTime: new Date(clock.now()).toISOString().replace('Z', '000Z') } },
    ]);
    expect(sink.patched[0]?.name).toBe(sink.created[0]?.metadata.name);
    expect(sink.patched[0]?.type).toBe('merge');
  });

  it('creates a new Event when the note differs or the window has passed', async () => {
    const { recorder, sink, clock } = aRecorder();
    recorder.event(fleet, 'Normal', 'ScaledUp', 'backend 2 -> 3');
    recorder.event(fleet, 'Normal', 'ScaledUp', 'backend 3 -> 4');
    await clock.advance(11 * 60_000);
    recorder.event(fleet, 'Normal', 'ScaledUp', 'backend 2 -> 3');
    await recorder.flush();
    expect(sink.created).toHaveLength(3);
    expect(sink.patched).toHaveLength(0);
  });

  it('starts a fresh Event when the series Event expired', async () => {
    const { recorder, sink } = aRecorder();
    recorder.event(fleet, 'Normal', 'ScaledUp', 'x');
    await recorder.flush();
    sink.expired.add(sink.created[0]?.metadata.name ?? '');
    recorder.event(fleet, 'Normal', 'ScaledUp', 'x');
    await recorder.flush();
    expect(sink.created).toHaveLength(2);
    expect(sink.created[1]?.metadata.name).not.toBe(sink.created[0]?.metadata.name);
  });

  it('drops events beyond the per-object burst until tokens refill', async () => {
    const { recorder, sink, clock } = aRecorder({ burst: 3 });
    for (let i = 0; i < 10; i++) recorder.event(fleet, 'Normal', `Reason${i}`, 'n');
    await recorder.flush();
    expect(sink.created).toHaveLength(3);
    await clock.advance(5 * 60_000);
    recorder.event(fleet, 'Normal', 'Later', 'n');
    await recorder.flush();
    expect(sink.created).toHaveLength(4);
  });

  it('truncates notes to 1 KiB', async () => {
    const { recorder, sink } = aRecorder();
    recorder.event(fleet, 'Warning', 'Failed', 'é'.repeat(2000));
    await recorder.flush();
    expect(Buffer.byteLength(String(sink.created[0]?.note))).toBeLessThanOrEqual(1024);
  });

  it('records nothing and warns of nothing in a namespace being deleted, but warns of other refusals', async () => {
    const { logger, lines } = captureLogs('info');
    const refusals = [
      new KubeApiError({ code: 403, reason: 'Forbidden', message: 'namespace voice is being terminated', details: { causes: [{ reason: 'NamespaceTerminating', field: 'metadata.namespace' }] } }),
      new KubeApiError({ code: 403, reason: 'Forbidden', message: 'events is forbidden: User cannot create' }),
    ];
    const sink: EventSink = {
      create: async () => {
        throw refusals.shift();
      },
      patch: async () => ({ apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'x' } }),
    };
    const recorder = new EventRecorder({ sink, clock: new FakeClock(), logger, reportingController: 'unmute.sh/operator', reportingInstance: 'pod-1' });
    recorder.event(fleet, 'Normal', 'Scaled', 'first');
    await recorder.flush();
    expect(lines).toEqual([]);
    recorder.event(fleet, 'Normal', 'Scaled', 'second');
    await recorder.flush();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([['warn', 'failed to record event']]);
  });
});
