// moshi-server's /metrics (rust prometheus 0.13): families sorted by name, counters without
// `_total` and without `_created`, integers printed without a decimal point, no process metrics,
// and every family registered lazily on first use, so a fresh server answers an empty body.

type Family =
  | { type: 'counter' | 'gauge'; help: string; value: number; labels: string }
  | { type: 'histogram'; help: string; buckets: number[]; counts: number[]; sum: number; count: number };

const HANDLER_ALL = '{handler="all"}';

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(v);
}

export class MoshiMetrics {
  readonly #families = new Map<string, Family>();

  #scalar(name: string, type: 'counter' | 'gauge', help: string): Family & { type: 'counter' | 'gauge' } {
    let f = this.#families.get(name);
    if (f === undefined) {
      f = { type, help, value: 0, labels: HANDLER_ALL };
      this.#families.set(name, f);
    }
    return f as Family & { type: 'counter' | 'gauge' };
  }

  inc(name: string, help: string, by = 1): void {
    this.#scalar(name, 'counter', help).value += by;
  }

  gauge(name: string, help: string, delta: number): void {
    this.#scalar(name, 'gauge', help).value += delta;
  }

  observe(name: string, help: string, buckets: number[], v: number): void {
    let f = this.#families.get(name);
    if (f === undefined) {
      f = { type: 'histogram', help, buckets, counts: buckets.map(() => 0), sum: 0, count: 0 };
      this.#families.set(name, f);
    }
    if (f.type !== 'histogram') return;
    f.buckets.forEach((b, i) => {
      if (v <= b) f.counts[i]!++;
    });
    f.sum += v;
    f.count++;
  }

  value(name: string): number | undefined {
    const f = this.#families.get(name);
    return f === undefined ? undefined : f.type === 'histogram' ? f.count : f.value;
  }

  text(): string {
    let out = '';
    for (const name of [...this.#families.keys()].sort()) {
      const f = this.#families.get(name)!;
      out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n`;
      if (f.type === 'histogram') {
        f.buckets.forEach((b, i) => (out += `${name}_bucket{le="${b}"} ${f.counts[i]}\n`));
        out += `${name}_bucket{le="+Inf"} ${f.count}\n${name}_sum ${num(f.sum)}\n${name}_count ${f.count}\n`;
      } else out += `${name}${f.labels} ${num(f.value)}\n`;
    }
    return out;
  }
}

export const MOSHI_METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4';
export const ASR_STEP_BUCKETS = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08];
export const ASR_CONN_STEPS_BUCKETS = [2, 25, 125, 250, 500, 750, 1125, 1500, 2250, 3000, 4500];
export const PY_STEP_BUCKETS = [0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.08];
export const PY_CONN_STEPS_BUCKETS = [2, 25, 62.5, 125, 250, 500, 750];
