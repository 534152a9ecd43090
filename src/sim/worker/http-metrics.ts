// The `http_*` families of prometheus-fastapi-instrumentator 7.1.0 with the defaults Unmute uses
// (`Instrumentator().instrument(app).expose(app)`), after the worker_* families as in the real
// backend (the middleware registers them when the app starts):
//
//   http_requests_total{handler,method,status}  counter, status grouped ("2xx", "4xx")
//   http_request_size_bytes{handler}             summary of the request's Content-Length (0 without)
//   http_response_size_bytes{handler}            summary of the response's Content-Length
//   http_request_duration_highr_seconds          histogram, no labels, 21 buckets
//   http_request_duration_seconds{handler,method} histogram, buckets 0.1, 0.5, 1
//
// Which requests count, as there: every HTTP request, /metrics included (it shows from the next
// scrape on, being recorded when its response is done); `handler` is the route's path, "none" for
// a path no route matches; websocket traffic never counts (the middleware only sees HTTP scopes).
// A labelled family shows no sample, and no `_created` family, until its first request; each
// label set's `_created` is the time of its first request.
import { familyHeader, sampleText, unixSeconds } from './exposition.ts';

export const HIGHR_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60];
export const HANDLER_BUCKETS = [0.1, 0.5, 1];

const HELP = {
  requests: 'Total number of requests by method, status and handler.',
  requestSize: 'Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. ',
  responseSize: 'Content length of outgoing responses by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. ',
  highr: 'Latency with many buckets but no API specific labels. Made for more accurate percentile calculations. ',
  duration: 'Latency with only few buckets by handler. Made to be only used if aggregation by handler is important. ',
};

/** The handler label of a request that matched no route. */
export const UNMATCHED_HANDLER = 'none';

export interface HttpObservation {
  /** The matched route's path, or UNMATCHED_HANDLER. */
  handler: string;
  method: string;
  status: number;
  requestBytes: number;
  responseBytes: number;
  seconds: number;
}

interface Child<L> {
  labels: L;
  created: number;
}
interface CountChild<L> extends Child<L> {
  count: number;
}
interface SumChild<L> extends CountChild<L> {
  sum: number;
}
interface HistChild<L> extends SumChild<L> {
  /** Observations per bucket (not cumulative). */
  perBucket: number[];
}

type Labels = Record<string, string>;

export class HttpMetrics {
  // Label sets in the order of their first request, as prometheus_client keeps them.
  readonly #requests = new Map<string, CountChild<Labels>>();
  readonly #requestSize = new Map<string, SumChild<Labels>>();
  readonly #responseSize = new Map<string, SumChild<Labels>>();
  readonly #highr: HistChild<Labels> = { labels: {}, created: unixSeconds(), count: 0, sum: 0, perBucket: HIGHR_BUCKETS.map(() => 0) };
  readonly #duration = new Map<string, HistChild<Labels>>();

  observe(o: HttpObservation): void {
    const status = `${String(o.status)[0]}xx`;
    countChild(this.#requests, { handler: o.handler, method: o.method, status }).count++;
    addTo(sumChild(this.#requestSize, { handler: o.handler }), o.requestBytes);
    addTo(sumChild(this.#responseSize, { handler: o.handler }), o.responseBytes);
    observeHist(this.#highr, HIGHR_BUCKETS, o.seconds);
    const key = `${o.handler}\u0000${o.method}`;
    let d = this.#duration.get(key);
    if (d === undefined) {
      d = { labels: { handler: o.handler, method: o.method }, created: unixSeconds(), count: 0, sum: 0, perBucket: HANDLER_BUCKETS.map(() => 0) };
      this.#duration.set(key, d);
    }
    observeHist(d, HANDLER_BUCKETS, o.seconds);
  }

  render(): string {
    let out = familyHeader('http_requests_total', HELP.requests, 'counter');
    for (const c of this.#requests.values()) out += sampleText('http_requests_total', c.labels, c.count);
    out += createdFamily('http_requests', HELP.requests, this.#requests.values());
    out += summary('http_request_size_bytes', HELP.requestSize, this.#requestSize);
    out += summary('http_response_size_bytes', HELP.responseSize, this.#responseSize);
    out += familyHeader('http_request_duration_highr_seconds', HELP.highr, 'histogram');
    out += histSamples('http_request_duration_highr_seconds', this.#highr, HIGHR_BUCKETS);
    out += createdFamily('http_request_duration_highr_seconds', HELP.highr, [this.#highr]);
    out += familyHeader('http_request_duration_seconds', HELP.duration, 'histogram');
    for (const d of this.#duration.values()) out += histSamples('http_request_duration_seconds', d, HANDLER_BUCKETS);
    out += createdFamily('http_request_duration_seconds', HELP.duration, this.#duration.values());
    return out;
  }
}

function countChild(m: Map<string, CountChild<Labels>>, labels: Labels): CountChild<Labels> {
  const key = Object.values(labels).join('\u0000');
  let c = m.get(key);
  if (c === undefined) {
    c = { labels, created: unixSeconds(), count: 0 };
    m.set(key, c);
  }
  return c;
}

function sumChild(m: Map<string, SumChild<Labels>>, labels: Labels): SumChild<Labels> {
  const key = Object.values(labels).join('\u0000');
  let c = m.get(key);
  if (c === undefined) {
    c = { labels, created: unixSeconds(), count: 0, sum: 0 };
    m.set(key, c);
  }
  return c;
}

function addTo(c: SumChild<Labels>, value: number): void {
  c.count++;
  c.sum += value;
}

function observeHist(h: HistChild<Labels>, bounds: readonly number[], value: number): void {
  addTo(h, value);
  const i = bounds.findIndex((b) => value <= b);
  if (i >= 0) h.perBucket[i]!++;
}

function histSamples(name: string, h: HistChild<Labels>, bounds: readonly number[]): string {
  let out = '';
  let cumulative = 0;
  bounds.forEach((b, i) => {
    cumulative += h.perBucket[i]!;
    out += sampleText(`${name}_bucket`, { ...h.labels, le: b }, cumulative);
  });
  out += sampleText(`${name}_bucket`, { ...h.labels, le: Infinity }, h.count);
  out += sampleText(`${name}_count`, h.labels, h.count);
  out += sampleText(`${name}_sum`, h.labels, h.sum);
  return out;
}

function summary(name: string, help: string, children: Map<string, SumChild<Labels>>): string {
  let out = familyHeader(name, help, 'summary');
  for (const c of children.values()) out += sampleText(`${name}_count`, c.labels, c.count) + sampleText(`${name}_sum`, c.labels, c.sum);
  return out + createdFamily(name, help, children.values());
}

/** The `_created` gauge family, written only when the family has a label set (as prometheus_client). */
function createdFamily(base: string, help: string, children: Iterable<Child<Labels>>): string {
  let samples = '';
  for (const c of children) samples += sampleText(`${base}_created`, c.labels, c.created);
  return samples === '' ? '' : familyHeader(`${base}_created`, help, 'gauge') + samples;
}
