// Counts API requests by verb and kind, so tests can assert "an unchanged CR costs zero writes".
export type RequestVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'apply' | 'delete' | 'discovery';

const writeVerbs: ReadonlySet<RequestVerb> = new Set(['create', 'update', 'patch', 'apply', 'delete']);

export function isWriteVerb(verb: RequestVerb): boolean {
  return writeVerbs.has(verb);
}

/** Frozen counts keyed `verb kind` (e.g. `apply Deployment`); `kind` is '' for discovery and raw paths. */
export type RequestCounts = Readonly<Record<string, number>>;

export interface RequestFilter {
  verb?: RequestVerb;
  kind?: string;
  /** true: only create/update/patch/apply/delete; false: only reads. */
  writes?: boolean;
}

export class RequestCounter {
  readonly #counts = new Map<string, number>();

  record(verb: RequestVerb, kind: string): void {
    const key = `${verb} ${kind}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  snapshot(): RequestCounts {
    return Object.freeze(Object.fromEntries(this.#counts));
  }

  /** Requests matching `filter` since `since` (or since the start). */
  count(filter: RequestFilter = {}, since: RequestCounts = {}): number {
    let total = 0;
    for (const [key, value] of this.#counts) {
      const space = key.indexOf(' ');
      const verb = key.slice(0, space) as RequestVerb;
      const kind = key.slice(space + 1);
      if (filter.verb !== undefined && filter.verb !== verb) continue;
      if (filter.kind !== undefined && filter.kind !== kind) continue;
      if (filter.writes !== undefined && filter.writes !== isWriteVerb(verb)) continue;
      total += value - (since[key] ?? 0);
    }
    return total;
  }

  /** Writes since `since`, e.g. `counter.writesSince(before)` after a reconcile. */
  writesSince(since: RequestCounts, kind?: string): number {
    return this.count(kind === undefined ? { writes: true } : { writes: true, kind }, since);
  }

  /** Per `verb kind` differences since `since`, omitting zeros; handy in assertion messages. */
  diff(since: RequestCounts): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, value] of this.#counts) {
      const delta = value - (since[key] ?? 0);
      if (delta !== 0) out[key] = delta;
    }
    return out;
  }
}
