// Reads one gauge out of a Prometheus text exposition, strictly, as the text format defines it.
// A pod is removed when its reading says 0, so anything that is not one well-formed, finite,
// non-negative sample is a problem with a reason, never a number: a line without a value, a hex
// or otherwise coerced number, NaN, an infinity, a negative value, or the series twice.
// Lines are scanned as they arrive, so a huge body is never held whole (the caller caps its size).

/** A float as the text format writes it: decimal with optional exponent, or NaN / ±Inf. */
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf|inf|NaN|nan)$/;

export type SampleValue = { ok: true; value: number } | { ok: false; problem: string };

/** Parses a sample value token; no coercion (`0x10`, `''`, `1_000` are problems). */
export function parseSampleValue(token: string | undefined): SampleValue {
  if (token === undefined || token === '') return { ok: false, problem: 'has no value' };
  if (!FLOAT.test(token)) return { ok: false, problem: `has value "${token.slice(0, 40)}", not a number` };
  const lower = token.toLowerCase();
  if (lower === 'nan') return { ok: false, problem: 'is NaN' };
  if (lower.endsWith('inf')) return { ok: false, problem: `is ${token}` };
  const value = Number(token);
  if (!Number.isFinite(value)) return { ok: false, problem: `is ${token}, not finite` };
  return { ok: true, value };
}

/**
 * Collects the value tokens of one metric's samples from text fed in chunks. `one`: the metric must
 * appear exactly once (an unlabelled gauge); `sum`: every series of it is added up (a labelled one).
 */
export class GaugeScanner {
  readonly #metric: string;
  readonly #series: 'one' | 'sum';
  #partial = '';
  readonly #tokens: Array<string | undefined> = [];

  readonly #absentIsZero: boolean;

  constructor(metric: string, series: 'one' | 'sum' = 'one', opts: { absentIsZero?: boolean | undefined } = {}) {
    this.#metric = metric;
    this.#series = series;
    this.#absentIsZero = opts.absentIsZero === true;
  }

  push(chunk: string): void {
    const text = this.#partial + chunk;
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  /** The reading after the last chunk: one valid sample, or why not. */
  end(): SampleValue {
    if (this.#partial !== '') this.#line(this.#partial);
    this.#partial = '';
    if (this.#tokens.length === 0) return this.#absentIsZero ? { ok: true, value: 0 } : { ok: false, problem: `${this.#metric} is missing from /metrics` };
    if (this.#series === 'one' && this.#tokens.length > 1) return { ok: false, problem: `${this.#metric} appears ${this.#tokens.length} times` };
    let total = 0;
    for (const token of this.#tokens) {
      const v = parseSampleValue(token);
      if (!v.ok) return { ok: false, problem: `${this.#metric} ${v.problem}` };
      if (v.value < 0) return { ok: false, problem: `${this.#metric} is negative (${v.value})` };
      total += v.value;
    }
    return { ok: true, value: total };
  }

  #line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.startsWith(this.#metric)) return;
    let rest = line.slice(this.#metric.length);
    if (rest.startsWith('{')) {
      // Label values may hold `}` inside quotes: find the closing brace outside them.
      const close = closingBrace(rest);
      if (close < 0) {
        this.#tokens.push(undefined);
        return;
      }
      rest = rest.slice(close + 1);
    } else if (rest !== '' && rest[0] !== ' ' && rest[0] !== '\t') {
      return; // another metric sharing the prefix (worker_active_sessions_total, ...)
    }
    // value [timestamp]
    this.#tokens.push(rest.trim().split(/[ \t]+/)[0] || undefined);
  }
}

function closingBrace(s: string): number {
  let quoted = false;
  for (let i = 1; i < s.length; i++) {
    const c = s[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '}') return i;
  }
  return -1;
}

/** Reads `metric` from a whole exposition (tests, small bodies). */
export function readGauge(exposition: string, metric: string, series: 'one' | 'sum' = 'one'): SampleValue {
  const scanner = new GaugeScanner(metric, series);
  scanner.push(exposition);
  return scanner.end();
}
