// Reads per-pod sessions from Prometheus' HTTP API, for clusters where the operator cannot reach
// pod IPs. The answer is parsed with zod; an error or empty result means "unknown", never zero.
import { request } from 'undici';
import { z } from 'zod';
import type { ReadTarget, SessionReading, SessionSource } from './session-readings.ts';

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

export interface PrometheusSessionSourceOptions {
  url: string;
  /** Query with {{namespace}}, {{name}}, {{window}} placeholders. */
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

export class PrometheusSessionSource implements SessionSource {
  private readonly opts: PrometheusSessionSourceOptions;

  constructor(opts: PrometheusSessionSourceOptions) {
    this.opts = opts;
  }

  async read(targets: ReadTarget[], signal?: AbortSignal) {
    const readings = new Map<string, SessionReading>();
    const errors = new Map<string, string>();
    const query = expandQuery(this.opts.queryTemplate, {
      namespace: this.opts.namespace,
      name: this.opts.name,
      window: `${this.opts.windowSeconds}s`,
    });
    const url = new URL('/api/v1/query', this.opts.url);
    url.searchParams.set('query', query);
    try {
      const timeout = AbortSignal.timeout(this.opts.timeoutMs);
      const res = await request(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
      const body: unknown = await res.body.json();
      const failed = errorAnswer.safeParse(body);
      if (failed.success) throw new Error(`Prometheus: ${failed.data.errorType ?? 'error'}: ${failed.data.error ?? ''}`);
      const parsed = instantVector.safeParse(body);
      if (!parsed.success) throw new Error(`Prometheus answer is not an instant vector: ${parsed.error.issues[0]?.message ?? ''}`);
      for (const sample of parsed.data.data.result) {
        const pod = sample.metric['pod'];
        const value = Number(sample.value[1]);
        if (pod === undefined || !Number.isFinite(value) || value < 0) continue;
        readings.set(pod, { sessions: value, observedAtMs: Math.round(sample.value[0] * 1000) });
      }
      for (const t of targets) if (!readings.has(t.pod)) errors.set(t.pod, 'no series for this pod in the Prometheus answer');
    } catch (err) {
      for (const t of targets) errors.set(t.pod, (err as Error).message);
    }
    return { readings, errors };
  }
}
