// Where a new conversation goes, chosen as a load balancer in front of backends would: round robin
// (kube-proxy-like spreading) or least connections (fewest conversations this client has open
// there). A lease is held for the session's life so least-connections sees live counts.

export interface TargetLease {
  readonly url: string;
  /** Call once when the session ends. */
  release(): void;
}

export interface TargetPicker {
  /** A target for a new session, or undefined when none is ready. */
  pick(): TargetLease | undefined;
  /** Current ready targets (for reports and preflight). */
  targets(): readonly string[];
  /** Stops background refreshes. */
  close(): void;
}

export type PickStrategy = 'round-robin' | 'least-connections';

/**
 * A set of targets that can change over time (EndpointSlices); in-flight counts survive updates
 * so a backend that leaves and comes back is not seen as empty while it still has sessions.
 */
export class TargetPool implements TargetPicker {
  private readonly strategy: PickStrategy;
  private urls: string[] = [];
  private readonly inFlight = new Map<string, number>();
  private cursor = 0;

  constructor(strategy: PickStrategy, urls: readonly string[] = []) {
    this.strategy = strategy;
    this.setTargets(urls);
  }

  setTargets(urls: readonly string[]): void {
    this.urls = [...new Set(urls)];
  }

  targets(): readonly string[] {
    return this.urls;
  }

  connections(url: string): number {
    return this.inFlight.get(url) ?? 0;
  }

  pick(): TargetLease | undefined {
    if (this.urls.length === 0) return undefined;
    let url: string;
    if (this.strategy === 'round-robin') {
      url = this.urls[this.cursor % this.urls.length]!;
      this.cursor = (this.cursor + 1) % this.urls.length;
    } else {
      // Ties go round robin so equal backends fill evenly.
      let best: string | undefined;
      let bestCount = Infinity;
      for (let i = 0; i < this.urls.length; i++) {
        const u = this.urls[(this.cursor + i) % this.urls.length]!;
        const c = this.connections(u);
        if (c < bestCount) {
          best = u;
          bestCount = c;
        }
      }
      url = best!;
      this.cursor = (this.cursor + 1) % this.urls.length;
    }
    this.inFlight.set(url, this.connections(url) + 1);
    let released = false;
    return {
      url,
      release: () => {
        if (released) return;
        released = true;
        const n = this.connections(url) - 1;
        if (n <= 0) this.inFlight.delete(url);
        else this.inFlight.set(url, n);
      },
    };
  }

  close(): void {}
}

/** A fixed list of backend URLs. */
export function staticTargets(urls: readonly string[], strategy: PickStrategy = 'round-robin'): TargetPool {
  if (urls.length === 0) throw new Error('at least one target URL is needed');
  return new TargetPool(strategy, urls);
}
