// Test exporters that serve Unmute's metric families (backend, moshi-server STT/TTS, vLLM) and the
// operator's own metrics with prom-client, with values that move every tick, so a real Prometheus
// scraping them has data for every panel and rule. Bound to 127.0.0.1, stopped by close().
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { FleetMetrics } from '../../src/monitoring/fleet-metrics.ts';
import { createRuntimeMetrics } from '../../src/observability/metrics.ts';

export type MetricSource = 'backend' | 'stt' | 'tts' | 'llm';

export interface MetricFamily {
  source: MetricSource;
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  buckets?: number[];
  /** Defined by Unmute but never incremented (the exporter leaves it at zero too). */
  neverIncremented?: boolean;
}

const catalogPath = new URL('../fixtures/unmute-metric-names.json', import.meta.url);

/** The checked-in list of Unmute metric families. */
export function unmuteMetricFamilies(): MetricFamily[] {
  return (JSON.parse(readFileSync(catalogPath, 'utf8')) as { families: MetricFamily[] }).families;
}

/** Exposed name of a counter: Python clients add `_total`, moshi-server (Rust) does not. */
export function counterSeriesName(f: MetricFamily): string {
  return f.source === 'stt' || f.source === 'tts' ? f.name : `${f.name}_total`;
}

/** Every series name a family shows up as in Prometheus. */
export function seriesNames(f: MetricFamily): string[] {
  switch (f.type) {
    case 'counter':
      return [counterSeriesName(f)];
    case 'gauge':
      return [f.name];
    case 'histogram':
      return [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`];
    case 'summary':
      return [f.name, `${f.name}_sum`, `${f.name}_count`];
  }
}

export interface FixtureExporter {
  url: string;
  /** host:port, as a Prometheus static target. */
  target: string;
  close(): Promise<void>;
}

/** A deterministic wobble in [0, 1) per tick and salt, so values move without randomness. */
function wobble(tick: number, salt: number): number {
  const x = Math.sin(tick * 12.9898 + salt * 78.233) * 43758.5453;
  return x - Math.floor(x);
}

/** Where an exporter listens: 127.0.0.1 on a free port unless told (e.g. a pod IP inside a cluster's netns). */
export interface ListenOptions {
  host?: string;
  port?: number;
}

async function serve(registry: Registry, onTick: (tick: number) => void, tickMs: number, listen: ListenOptions = {}): Promise<FixtureExporter> {
  let tick = 0;
  onTick(tick);
  const timer = setInterval(() => onTick(++tick), tickMs);
  timer.unref();
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  const host = listen.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/metrics`,
    target: `${host}:${port}`,
    close: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Observation for a histogram: spread over its buckets with some beyond the last one. */
function observation(f: MetricFamily, tick: number, salt: number): number {
  const buckets = f.buckets ?? [1];
  const top = buckets[buckets.length - 1] ?? 1;
  const bottom = Math.max(buckets[0] ?? 0, top / 20);
  // 90 % inside the buckets, 10 % up to 50 % beyond the top: the "+Inf only" case is exercised.
  const w = wobble(tick, salt);
  return w < 0.9 ? bottom + (top - bottom) * (w / 0.9) : top * (1 + (w - 0.9) * 5);
}

/** An exporter of one Unmute source's families with moving values. */
export function startUnmuteExporter(source: MetricSource, opts: { tickMs?: number; salt?: number; listen?: ListenOptions } = {}): Promise<FixtureExporter> {
  const registry = new Registry();
  const registers = [registry];
  const salt = opts.salt ?? 1;
  const updates: Array<(tick: number) => void> = [];
  const llmLabels = source === 'llm' ? ['model_name', 'engine'] : [];
  const llmValues = source === 'llm' ? { model_name: 'fixture/model', engine: '0' } : {};
  unmuteMetricFamilies()
    .filter((f) => f.source === source)
    .forEach((f, i) => {
      const s = salt * 100 + i;
      const help = `fixture ${f.name}`;
      switch (f.type) {
        case 'counter': {
          const c = new Counter({ name: counterSeriesName(f), help, labelNames: llmLabels, registers });
          c.inc(llmValues, 0);
          if (!f.neverIncremented) updates.push((t) => c.inc(llmValues, 1 + Math.floor(wobble(t, s) * 5)));
          break;
        }
        case 'gauge': {
          const g = new Gauge({ name: f.name, help, labelNames: llmLabels, registers });
          // Sessions wander 0..6 so that "above maxSessionsPerPod (4)" happens; fractions stay in 0..1.
          const scale = f.name.endsWith('_perc') ? 1 : 6;
          updates.push((t) => g.set(llmValues, f.name.endsWith('_perc') ? wobble(t, s) : Math.floor(wobble(t, s) * (scale + 1))));
          break;
        }
        case 'histogram': {
          const h = new Histogram({ name: f.name, help, buckets: f.buckets ?? [1], registers });
          updates.push((t) => h.observe(observation(f, t, s)));
          break;
        }
        case 'summary': {
          // worker_health_ok: 0/1 observations, mostly healthy.
          const sm = new Summary({ name: f.name, help, percentiles: [], registers });
          updates.push((t) => sm.observe(wobble(t, s) < 0.85 ? 1 : 0));
          break;
        }
      }
    });
  return serve(registry, (t) => updates.forEach((u) => u(t)), opts.tickMs ?? 250, opts.listen);
}

/** An exporter of the operator's metrics: fleet gauges of one UnmuteDeployment plus runtime metrics. */
export function startOperatorExporter(fleet: { namespace: string; name: string }, opts: { tickMs?: number } = {}): Promise<FixtureExporter> {
  const registry = new Registry();
  const metrics = new FleetMetrics(registry);
  const runtime = createRuntimeMetrics(registry);
  const controller = 'unmutedeployment';
  return serve(
    registry,
    (t) => {
      const backends = 2 + (t % 3);
      metrics.update({
        namespace: fleet.namespace,
        name: fleet.name,
        components: {
          backend: { desired: backends, ready: backends - (t % 2), gpusRequested: 0, pendingPods: 0 },
          stt: { desired: 1, ready: 1, gpusRequested: 1, pendingPods: 0 },
          tts: { desired: 2, ready: 1, gpusRequested: 2, pendingPods: 1 },
          llm: { desired: 1, ready: 1, gpusRequested: 1, pendingPods: 0 },
        },
        sessions: { active: Math.floor(wobble(t, 7) * backends * 4), capacity: backends * 4, unknownPods: t % 2, free: backends * 4 - Math.floor(wobble(t, 7) * backends * 4) },
        drainingPods: [{ component: 'backend', pod: `${fleet.name}-backend-old`, sinceSeconds: 30 + t }],
        gpuBudget: 8,
        autoscalerAtMax: t % 4 === 0,
      });
      metrics.recordScaleEvent(fleet.namespace, fleet.name, 'backend', t % 2 === 0 ? 'up' : 'down', 'sessions');
      runtime.reconcileTotal.inc({ controller, result: t % 5 === 0 ? 'error' : 'success' });
      if (t % 5 === 0) runtime.reconcileErrors.inc({ controller });
      runtime.reconcileTime.observe({ controller }, 0.01 + wobble(t, 3) * 0.5);
      runtime.workqueueDepth.set({ name: controller, controller }, t % 4);
      runtime.workqueueRetries.inc({ name: controller, controller });
      runtime.leaderElectionMasterStatus.set({ name: 'unmute-operator' }, 1);
    },
    opts.tickMs ?? 250,
  );
}
