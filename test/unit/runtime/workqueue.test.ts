import { describe, expect, it } from 'vitest';
import { createRuntimeMetrics, createMetricsRegistry } from '../../../src/observability/metrics.ts';
import { ItemExponentialRateLimiter } from '../../../src/runtime/backoff.ts';
import { WorkQueue } from '../../../src/runtime/workqueue.ts';
import { FakeClock, settle } from './support/fake-clock.ts';

function aQueue(clock = new FakeClock()) {
  const metrics = createRuntimeMetrics(createMetricsRegistry());
  return { queue: new WorkQueue({ name: 'test', clock, metrics }), clock, metrics };
}

async function metricValue(metrics: ReturnType<typeof createRuntimeMetrics>, name: string): Promise<number | undefined> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('work queue', () => {
  it('collapses repeated adds of a pending key into one', async () => {
    const { queue } = aQueue();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    expect(queue.len()).toBe(2);
    expect(await queue.get()).toBe('ns/a');
    expect(await queue.get()).toBe('ns/b');
    expect(queue.len()).toBe(0);
  });

  it('never hands the same key to two workers at once', async () => {
    const { queue } = aQueue();
    queue.add('ns/a');
    expect(await queue.get()).toBe('ns/a');
    queue.add('ns/a');
    expect(queue.len()).toBe(0);
    let second: string | undefined = 'none';
    void queue.get().then((k) => (second = k));
    await settle();
    expect(second).toBe('none');
    queue.done('ns/a');
    await settle();
    expect(second).toBe('ns/a');
  });

  it('processes a key re-added during processing exactly once more after done', async () => {
    const { queue } = aQueue();
    queue.add('k');
    await queue.get();
    queue.add('k');
    queue.add('k');
    queue.done('k');
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe('k');
    queue.done('k');
    expect(queue.len()).toBe(0);
  });

  it('hands keys to waiting workers in FIFO order', async () => {
    const { queue } = aQueue();
    const got: Array<string | undefined> = [];
    void queue.get().then((k) => got.push(k));
    void queue.get().then((k) => got.push(k));
    queue.add('x');
    queue.add('y');
    await settle();
    expect(got).toEqual(['x', 'y']);
  });

  it('delays an addAfter until its time and lets the earliest of two delays win', async () => {
    const { queue, clock } = aQueue();
    queue.addAfter('k', 1000);
    queue.addAfter('k', 300);
    queue.addAfter('k', 5000);
    expect(queue.delayedLen()).toBe(1);
    await clock.advance(299);
    expect(queue.len()).toBe(0);
    await clock.advance(1);
    expect(queue.len()).toBe(1);
    expect(queue.delayedLen()).toBe(0);
    await clock.advance(10_000);
    expect(queue.len()).toBe(1);
  });

  it('adds immediately when addAfter gets a non-positive delay', () => {
    const { queue } = aQueue();
    queue.addAfter('k', 0);
    expect(queue.len()).toBe(1);
  });

  it('backs off a failing key exponentially from 5 ms and resets on forget', async () => {
    const { queue, clock } = aQueue();
    const delays = [queue.addRateLimited('k'), queue.addRateLimited('k'), queue.addRateLimited('k')];
    expect(delays).toEqual([5, 10, 20]);
    expect(queue.numRequeues('k')).toBe(3);
    await clock.advance(5);
    expect(queue.len()).toBe(1);
    queue.forget('k');
    expect(queue.numRequeues('k')).toBe(0);
    expect(queue.addRateLimited('k')).toBe(5);
  });

  it('caps the per-key backoff at 1000 seconds', () => {
    const limiter = new ItemExponentialRateLimiter();
    let last = 0;
    for (let i = 0; i < 100; i++) last = limiter.when('k');
    expect(last).toBe(1_000_000);
  });

  it('returns undefined to waiting and later workers after shutdown and ignores new adds', async () => {
    const { queue } = aQueue();
    const waiting = queue.get();
    queue.addAfter('later', 100);
    queue.shutDown();
    expect(await waiting).toBeUndefined();
    queue.add('k');
    expect(queue.len()).toBe(0);
    expect(queue.delayedLen()).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });

  it('drains on shutdown: resolves only after in-flight keys are done', async () => {
    const { queue } = aQueue();
    queue.add('a');
    queue.add('b');
    await queue.get();
    let drained = false;
    void queue.shutDownWithDrain().then(() => (drained = true));
    await settle();
    expect(drained).toBe(false);
    queue.done('a');
    await settle();
    expect(drained).toBe(true);
  });

  it('reports depth, adds, retries and in-flight work as controller-runtime metrics', async () => {
    const { queue, clock, metrics } = aQueue();
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(await metricValue(metrics, 'workqueue_depth')).toBe(2);
    expect(await metricValue(metrics, 'workqueue_adds_total')).toBe(2);
    await queue.get();
    await clock.advance(3000);
    expect(await metricValue(metrics, 'workqueue_longest_running_processor_seconds')).toBe(3);
    expect(await metricValue(metrics, 'workqueue_unfinished_work_seconds')).toBe(3);
    queue.done('a');
    queue.addRateLimited('a');
    expect(await metricValue(metrics, 'workqueue_retries_total')).toBe(1);
    expect(await metricValue(metrics, 'workqueue_longest_running_processor_seconds')).toBe(0);
    const work = await metrics.registry.getSingleMetricAsString('workqueue_work_duration_seconds');
    expect(work).toContain('workqueue_work_duration_seconds_count{name="test",controller="test"} 1');
  });
});
