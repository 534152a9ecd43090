// Reads per-pod load from Prometheus' HTTP API, for clusters where the operator cannot reach pod
// IPs: the backends' sessions with the spec's query, the other components' load signal with one
// built here. The answer is parsed with zod and each value with the text format's float grammar;
// an error, an empty result, a malformed value or a pod answered twice means "unknown", never zero.
import { request } from 'undici';
import { z } from 'zod';
import { parseSampleValue } from './exposition.ts';
import { SESSIONS_COMPONENT } from '../api/v1alpha1/components.ts';
import type { LoadMetric, LoadReading, LoadSource, ReadTarget } from './readings.ts';

/** One instant query over one fleet's backends; far beyond this is not a sane answer. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

const instantVector = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('vector'),
    result: z.array(
      z.object({
        metric: z.record(z.string(), z.string()),
        value: z.tuple([z.number(), z.string()]),
      }),
    ),
  }),
});

const errorAnswer = z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() });

export interface PrometheusLoadSourceOptions {
  url: string;
  /** The backends' query, with {{namespace}}, {{name}}, {{window}} placeholders. */
  queryTemplate: string;
  namespace: string;
  name: string;
  /** Look-back of max_over_time, so one missed scrape does not blank a pod. */
  windowSeconds: number;
  timeoutMs: number;
}

function expandQuery(template: string, vars: { namespace: string; name: string; window: string }): string {
  return template.replaceAll('{{namespace}}', vars.namespace).replaceAll('{{name}}', vars.name).replaceAll('{{window}}', vars.window);
}

/** Leaving the loop early (over the cap) returns the iterator, which closes the body. */
async function boundedText(body: AsyncIterable<Buffer>, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > maxBytes) throw new Error(`Prometheus answer is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The largest value of each pod's load over the window (one missed scrape does not blank a pod), per pod. */
function componentQuery(metric: LoadMetric, vars: { namespace: string; name: string; window: string }): string {
  const matchers = `namespace="${vars.namespace}",unmute_sh_fleet="${vars.name}",unmute_sh_component="${metric.component}"`;
  const one = (m: string) => `sum by (pod) (max_over_time(${m}{${matchers}}[${vars.window}]))`;
  const load = metric.plus === undefined ? one(metric.name) : `${one(metric.name)} + ${one(metric.plus)}`;
  // A metric registered on first use has no series on a pod that never held work: 0 for a pod that is up.
  return metric.absentIsZero ? `${load} or (0 * max by (pod) (up{${matchers}} == 1))` : load;
}

export class PrometheusLoadSource implements LoadSource {
  readonly #opts: PrometheusLoadSourceOptions;

  constructor(opts: PrometheusLoadSourceOptions) {
    this.#opts = opts;
  }

  async read(targets: ReadTarget[], signal?: AbortSignal) {
    const readings = new Map<string, LoadReading>();
    const errors = new Map<string, string>();
    const byComponent = new Map<string, ReadTarget[]>();
    for (const t of targets) byComponent.set(t.metric.component, [...(byComponent.get(t.metric.component) ?? []), t]);
    for (const group of byComponent.values()) {
      const r = await this.#readGroup(group, signal);
      for (const [k, v] of r.readings) readings.set(k, v);
      for (const [k, v] of r.errors) errors.set(k, v);
    }
    return { readings, errors };
  }

  async #readGroup(targets: ReadTarget[], signal?: AbortSignal) {
    const readings = new Map<string, LoadReading>();
    const errors = new Map<string, string>();
    const metric = targets[0]!.metric;
    const vars = { namespace: this.#opts.namespace, name: this.#opts.name, window: `${this.#opts.windowSeconds}s` };
    const query = metric.component === SESSIONS_COMPONENT ? expandQuery(this.#opts.queryTemplate, vars) : componentQuery(metric, vars);
    const url = new URL('/api/v1/query', this.#opts.url);
    url.searchParams.set('query', query);
    const timeout = AbortSignal.timeout(this.#opts.timeoutMs);
    try {
      const res = await request(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      let body: unknown;
      try {
        body = JSON.parse(await boundedText(res.body, MAX_ANSWER_BYTES));
      } catch (err) {
        if (err instanceof SyntaxError) throw new Error(`Prometheus answered ${res.statusCode} with a body that is not JSON`);
        throw err;
      }
      const failed = errorAnswer.safeParse(body);
      if (failed.success) throw new Error(`Prometheus: ${failed.data.errorType ?? 'error'}: ${failed.data.error ?? ''}`);
      const parsed = instantVector.safeParse(body);
      if (!parsed.success) throw new Error(`Prometheus answer is not an instant vector: ${parsed.error.issues[0]?.message ?? ''}`);
      const seen = new Map<string, number>();
      for (const sample of parsed.data.data.result) {
        const pod = sample.metric['pod'];
        if (pod === undefined) continue;
        seen.set(pod, (seen.get(pod) ?? 0) + 1);
        const v = parseSampleValue(sample.value[1]);
        if (!v.ok) errors.set(pod, `Prometheus: ${metric.name} ${v.problem}`);
        else if (v.value < 0) errors.set(pod, `Prometheus: ${metric.name} is negative (${v.value})`);
        else readings.set(pod, { load: v.value, observedAtMs: Math.round(sample.value[0] * 1000) });
      }
      for (const [pod, count] of seen) {
        if (count <= 1) continue;
        readings.delete(pod);
        errors.set(pod, `Prometheus answered ${count} series for this pod: the query must give one per pod`);
      }
      for (const t of targets) if (!readings.has(t.pod) && !errors.has(t.pod)) errors.set(t.pod, 'no series for this pod in the Prometheus answer');
    } catch (err) {
      const message = timeout.aborted && signal?.aborted !== true ? `Prometheus did not answer within ${this.#opts.timeoutMs} ms` : (err as Error).message;
      readings.clear();
      for (const t of targets) errors.set(t.pod, message);
    }
    return { readings, errors };
  }
}
