// Kubernetes Events (events.k8s.io/v1) about the objects the operator manages, for `kubectl describe`.
// Repeats of the same event (same object, type, reason, action and note) within the series window
// bump `series.count` on the existing Event instead of creating a new one; each object gets a token
// bucket so a hot loop cannot flood the API server. Recording never throws and never blocks a reconcile.
import type { Logger } from '../observability/logger.ts';
import type { RuntimeMetrics } from '../observability/metrics.ts';
import type { Clock } from './clock.ts';
import { isNamespaceTerminating, isNotFound } from './errors.ts';
import type { PatchType, RequestOptions } from './kube-client.ts';
import { formatMicroTime } from './lease-lock.ts';
import type { KubeObject, TypeRef } from './object.ts';

/** The part of KubeClient the recorder needs. */
export interface EventSink {
  create<T extends KubeObject>(obj: T, options?: RequestOptions): Promise<T>;
  patch(ref: TypeRef, name: string, namespace: string | undefined, patch: unknown, type: PatchType): Promise<KubeObject>;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  sink: EventSink;
  /** e.g. `unmute.sh/operator`. */
  reportingController: string;
  /** This process, e.g. the pod name. */
  reportingInstance: string;
  clock: Clock;
  logger: Logger;
  metrics?: RuntimeMetrics;
  /** Repeats within this long of the last occurrence join the series (default 10 min). */
  seriesWindowMs?: number;
  /** Per-object token bucket: burst (default 25) and one token per refill interval (default 5 min). */
  burst?: number;
  refillIntervalMs?: number;
}

export interface EventOptions {
  /** What the operator did or failed to do (required by events.k8s.io/v1); default `Reconcile`. */
  action?: string;
  related?: KubeObject;
}

const EVENT_REF = { apiVersion: 'events.k8s.io/v1', kind: 'Event' } as const;
const maxNoteBytes = 1024;

interface Series {
  name: string;
  namespace: string;
  count: number;
  lastAt: number;
  /** Writes for this series run one after another (create before patch). */
  tail: Promise<void>;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #windowMs: number;
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #pending = new Set<Promise<void>>();
  #sequence = 0;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#windowMs = options.seriesWindowMs ?? 10 * 60_000;
    this.#burst = options.burst ?? 25;
    this.#refillMs = options.refillIntervalMs ?? 5 * 60_000;
  }

  /** Records an event about `regarding`; returns at once, the API write happens in the background. */
  event(regarding: KubeObject, type: EventType, reason: string, note: string, options: EventOptions = {}): void {
    const now = this.#o.clock.now();
    const objectId = regarding.metadata.uid ?? `${regarding.kind}/${regarding.metadata.namespace ?? ''}/${regarding.metadata.name ?? ''}`;
    const action = options.action ?? 'Reconcile';
    const trimmedNote = truncateUtf8(note, maxNoteBytes);
    if (!this.#takeToken(objectId, now)) {
      this.#o.metrics?.eventsRecorded.inc({ reason, type, result: 'dropped' });
      this.#o.logger.debug({ reason, object: regarding.metadata.name }, 'event dropped by rate limit');
      return;
    }
    this.#sweep(now);
    const labels = { reason, type };
    const create = async (series: Series): Promise<void> => {
      await this.#o.sink.create(this.#body(series, regarding, type, reason, trimmedNote, action, options, now));
      this.#o.metrics?.eventsRecorded.inc({ ...labels, result: 'created' });
    };
    const seriesKey = [objectId, type, reason, action, trimmedNote].join('\u0000');
    const existing = this.#series.get(seriesKey);
    if (existing !== undefined && now - existing.lastAt < this.#windowMs) {
      existing.count++;
      existing.lastAt = now;
      const count = existing.count;
      this.#enqueue(existing, labels, async () => {
        try {
          const patch = { series: { count, lastObservedTime: formatMicroTime(now) } };
          await this.#o.sink.patch(EVENT_REF, existing.name, existing.namespace, patch, 'merge');
          this.#o.metrics?.eventsRecorded.inc({ ...labels, result: 'series' });
        } catch (err) {
          // Events expire (1 h TTL by default): start the series over with a fresh Event.
          if (!isNotFound(err)) throw err;
          existing.name = this.#newName(regarding, now);
          existing.count = 1;
          await create(existing);
        }
      });
      return;
    }
    const series: Series = {
      name: this.#newName(regarding, now),
      namespace: regarding.metadata.namespace ?? 'default',
      count: 1,
      lastAt: now,
      tail: Promise.resolve(),
    };
    this.#series.set(seriesKey, series);
    this.#enqueue(series, labels, () => create(series));
  }

  /** Waits until every write started so far finished (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** `<object name>.<hex time>`, unique per recorder like client-go's `%v.%x` of UnixNano. */
  #newName(regarding: KubeObject, now: number): string {
    const unique = BigInt(now) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000);
    // Leave room for the suffix within the 253-character name limit.
    return `${(regarding.metadata.name ?? 'object').slice(0, 230)}.${unique.toString(16)}`;
  }

  #enqueue(series: Series, labels: { reason: string; type: EventType }, write: () => Promise<void>): void {
    const run = series.tail.then(write).catch((err: unknown) => {
      this.#o.metrics?.eventsRecorded.inc({ ...labels, result: 'failed' });
      // A namespace being deleted takes no new Events; that is its end, not a fault.
      if (isNamespaceTerminating(err)) this.#o.logger.debug({ event: series.name, reason: labels.reason }, 'event not recorded: namespace is being deleted');
      else this.#o.logger.warn({ err, event: series.name, reason: labels.reason }, 'failed to record event');
    });
    series.tail = run;
    this.#pending.add(run);
    void run.finally(() => this.#pending.delete(run));
  }

  #body(series: Series, regarding: KubeObject, type: EventType, reason: string, note: string, action: string, options: EventOptions, now: number): KubeObject {
    return {
      ...EVENT_REF,
      metadata: { name: series.name, namespace: series.namespace },
      eventTime: formatMicroTime(now),
      reportingController: this.#o.reportingController,
      reportingInstance: this.#o.reportingInstance,
      action,
      reason,
      note,
      type,
      regarding: reference(regarding),
      ...(options.related === undefined ? {} : { related: reference(options.related) }),
    };
  }

  #takeToken(objectId: string, now: number): boolean {
    const bucket = this.#buckets.get(objectId) ?? { tokens: this.#burst, updatedAt: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.updatedAt) / this.#refillMs);
    bucket.updatedAt = now;
    this.#buckets.set(objectId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets series past their window and full buckets, so memory stays bounded. */
  #sweep(now: number): void {
    if (this.#series.size < 256 && this.#buckets.size < 256) return;
    for (const [key, s] of this.#series) if (now - s.lastAt >= this.#windowMs) this.#series.delete(key);
    for (const [key, b] of this.#buckets) if (b.tokens + (now - b.updatedAt) / this.#refillMs >= this.#burst) this.#buckets.delete(key);
  }
}

function reference(obj: KubeObject): Record<string, string> {
  const ref: Record<string, string> = { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name ?? '' };
  if (obj.metadata.namespace !== undefined) ref.namespace = obj.metadata.namespace;
  if (obj.metadata.uid !== undefined) ref.uid = obj.metadata.uid;
  return ref;
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = text;
  while (Buffer.byteLength(out) > maxBytes - 3) out = out.slice(0, -1);
  return `${out}...`;
}
