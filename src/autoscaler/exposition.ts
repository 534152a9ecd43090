// Reads one gauge out of a Prometheus text exposition, strictly, as the text format defines it.
// A pod is removed when its reading says 0, so anything that is not one well-formed, finite,
// non-negative sample is a problem with a reason, never a number: a line without a value, a hex
// or otherwise coerced number, NaN, an infinity, a negative value, or the series twice.
// Bytes are scanned as they arrive and only the wanted metric's lines are decoded, each at most a
// few kilobytes, so a huge body is never held (the caller caps its size too).

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

/** A sample line of the wanted metric longer than this is not a gauge sample: a problem, not a number. */
export const MAX_SAMPLE_LINE_BYTES = 4096;

const NEWLINE = 0x0a;
/** Enough for an unlabelled sample line; a labelled one grows the buffer. */
const INITIAL_LINE_BYTES = 128;
// Stateless (decode without `stream`): one of each serves every scanner.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Collects the value tokens of one metric's samples from bytes fed in chunks. `one`: the metric
 * must appear exactly once (an unlabelled gauge); `sum`: every series of it is added up (a
 * labelled one). Works on bytes: a line is only decoded when it starts with the metric's name, and
 * at most MAX_SAMPLE_LINE_BYTES of it are kept, so a huge or hostile body costs no memory beyond a
 * few kilobytes, whatever its size or line lengths.
 */
export class GaugeScanner {
  readonly #metric: string;
  readonly #name: Uint8Array;
  readonly #series: 'one' | 'sum';
  readonly #absentIsZero: boolean;
  readonly #tokens: Array<string | undefined> = [];
  /** Where the current line stands: matching the name so far, kept (it is the metric's), or skipped. */
  #state: 'match' | 'keep' | 'skip' = 'match';
  #matched = 0;
  /** Grows as a kept line needs it, up to MAX_SAMPLE_LINE_BYTES: most reads keep one short line, and an operator reads thousands of pods per interval. */
  #line = new Uint8Array(INITIAL_LINE_BYTES);
  #lineLength = 0;
  #tooLong = false;

  constructor(metric: string, series: 'one' | 'sum' = 'one', opts: { absentIsZero?: boolean | undefined } = {}) {
    this.#metric = metric;
    this.#name = encoder.encode(metric);
    this.#series = series;
    this.#absentIsZero = opts.absentIsZero === true;
  }

  push(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    let i = 0;
    while (i < bytes.length) {
      if (this.#state === 'skip') {
        const nl = bytes.indexOf(NEWLINE, i);
        if (nl < 0) return;
        i = nl + 1;
        this.#newLine();
        continue;
      }
      const b = bytes[i]!;
      if (b === NEWLINE) {
        if (this.#state === 'keep') this.#lineDone();
        this.#newLine();
        i++;
        continue;
      }
      if (this.#state === 'match') {
        if (b !== this.#name[this.#matched]) {
          this.#state = 'skip';
          continue;
        }
        this.#matched++;
        this.#keep(b);
        if (this.#matched === this.#name.length) this.#state = 'keep';
      } else this.#keep(b);
      i++;
    }
  }

  /** The reading after the last chunk: one valid sample, or why not. */
  end(): SampleValue {
    if (this.#state === 'keep') this.#lineDone();
    this.#newLine();
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

  #keep(b: number): void {
    if (this.#lineLength === this.#line.length && this.#line.length < MAX_SAMPLE_LINE_BYTES) {
      const grown = new Uint8Array(Math.min(MAX_SAMPLE_LINE_BYTES, this.#line.length * 4));
      grown.set(this.#line);
      this.#line = grown;
    }
    if (this.#lineLength < this.#line.length) this.#line[this.#lineLength++] = b;
    else this.#tooLong = true;
  }

  #newLine(): void {
    this.#state = 'match';
    this.#matched = 0;
    this.#lineLength = 0;
    this.#tooLong = false;
  }

  /** A whole line that starts with the metric's name: its value token, unless another metric shares the prefix. */
  #lineDone(): void {
    let text = decoder.decode(this.#line.subarray(0, this.#lineLength));
    if (text.endsWith('\r')) text = text.slice(0, -1);
    let rest = text.slice(this.#metric.length);
    if (rest !== '' && rest[0] !== '{' && rest[0] !== ' ' && rest[0] !== '\t') return; // worker_active_sessions_total, ...
    if (this.#tooLong) {
      this.#tokens.push(`<a sample line over ${MAX_SAMPLE_LINE_BYTES} bytes>`);
      return;
    }
    if (rest.startsWith('{')) {
      // Label values may hold `}` inside quotes: find the closing brace outside them.
      const close = closingBrace(rest);
      if (close < 0) {
        this.#tokens.push(undefined);
        return;
      }
      rest = rest.slice(close + 1);
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
