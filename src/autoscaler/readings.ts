// Where load readings come from, and how fresh they are. A reading that is missing or older than
// the staleness limit is "unknown": the policy never treats it as zero.
import type { ComponentName } from '../api/v1alpha1/components.ts';

export interface LoadReading {
  /** Sessions (backend), streams (STT, TTS) or requests (LLM) the pod holds. */
  load: number;
  observedAtMs: number;
}

/** Which metric measures a pod's load: its descriptor's load signal. */
export interface LoadMetric {
  component: ComponentName;
  name: string;
  /** Added to `name` (vLLM's waiting requests). */
  plus?: string | undefined;
  /**
   * `one`: exactly one series (Unmute's unlabelled gauge; two would be a broken exposition);
   * `sum`: every series of the name added up (vLLM labels its gauges by model and engine).
   */
  series: 'one' | 'sum';
  /** A metric absent from the exposition reads 0 (moshi-server registers metrics on first use). */
  absentIsZero?: boolean | undefined;
}

export interface ReadTarget {
  pod: string;
  ip: string | undefined;
  port: number;
  metric: LoadMetric;
}

export interface LoadSource {
  /** Reads what it can; pods it could not read are absent from the result, with an error. */
  read(targets: ReadTarget[], signal?: AbortSignal): Promise<{ readings: Map<string, LoadReading>; errors: Map<string, string> }>;
}

/** Remembers the last good reading per pod, so one failed read does not blank a pod at once. */
export class ReadingStore {
  readonly #readings = new Map<string, LoadReading>();
  // When this process first saw each pod drained (and by which drain): see drainSeenAt.
  readonly #drainSeen = new Map<string, { drain: string; atMs: number }>();

  /**
   * When this process first saw `pod` carry the drain `drain` (its draining-since annotation). The
   * annotation holds when the patch was sent, which can be long before it took effect (a write held
   * up by a paused API server lands when it resumes): the settle time before an empty reading
   * counts runs from whichever is later. After a restart a drain counts as seen now.
   */
  drainSeenAt(pod: string, drain: string, nowMs: number): number {
    const seen = this.#drainSeen.get(pod);
    if (seen !== undefined && seen.drain === drain) return seen.atMs;
    this.#drainSeen.set(pod, { drain, atMs: nowMs });
    return nowMs;
  }

  update(readings: Map<string, LoadReading>): void {
    for (const [pod, r] of readings) {
      const prev = this.#readings.get(pod);
      if (prev === undefined || r.observedAtMs >= prev.observedAtMs) this.#readings.set(pod, r);
    }
  }

  /** The reading if it is at most `staleMs` old, else undefined. */
  fresh(pod: string, nowMs: number, staleMs: number): LoadReading | undefined {
    const r = this.#readings.get(pod);
    return r !== undefined && nowMs - r.observedAtMs <= staleMs ? r : undefined;
  }

  /** The last good reading, however old. */
  last(pod: string): LoadReading | undefined {
    return this.#readings.get(pod);
  }

  /** Drops pods that no longer exist. */
  retain(pods: Iterable<string>): void {
    const keep = new Set(pods);
    for (const pod of this.#readings.keys()) if (!keep.has(pod)) this.#readings.delete(pod);
    for (const pod of this.#drainSeen.keys()) if (!keep.has(pod)) this.#drainSeen.delete(pod);
  }
}
