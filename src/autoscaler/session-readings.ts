// Where session counts come from, and how fresh they are. A reading that is missing or older
// than the staleness limit is "unknown": the policy never treats it as zero.
export interface SessionReading {
  sessions: number;
  observedAtMs: number;
}

export interface ReadTarget {
  pod: string;
  ip: string | undefined;
  port: number;
}

export interface SessionSource {
  /** Reads what it can; pods it could not read are absent from the result, with an error. */
  read(targets: ReadTarget[], signal?: AbortSignal): Promise<{ readings: Map<string, SessionReading>; errors: Map<string, string> }>;
}

/** Remembers the last good reading per pod, so one failed scrape does not blank a pod at once. */
export class ReadingStore {
  readonly #readings = new Map<string, SessionReading>();

  update(readings: Map<string, SessionReading>): void {
    for (const [pod, r] of readings) {
      const prev = this.#readings.get(pod);
      if (prev === undefined || r.observedAtMs >= prev.observedAtMs) this.#readings.set(pod, r);
    }
  }

  /** The reading if it is at most `staleMs` old, else undefined. */
  fresh(pod: string, nowMs: number, staleMs: number): SessionReading | undefined {
    const r = this.#readings.get(pod);
    return r !== undefined && nowMs - r.observedAtMs <= staleMs ? r : undefined;
  }

  /** The last good reading, however old. */
  last(pod: string): SessionReading | undefined {
    return this.#readings.get(pod);
  }

  /** Drops pods that no longer exist. */
  retain(pods: Iterable<string>): void {
    const keep = new Set(pods);
    for (const pod of this.#readings.keys()) if (!keep.has(pod)) this.#readings.delete(pod);
  }
}
