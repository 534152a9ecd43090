// The pure pieces of `bench:fleet --peers`: the KEDA sides' objects, the figures and goals per side,
// the plot's rows, spec and plain SVG, and the flags.
import { describe, expect, it } from 'vitest';
import { kedaFleet, kedaSessionsQuery, PEER_SIDES, sessionsWaitHook } from '../../../bench/peers-fleets.ts';
import { compressions, parsePeersFlags, peersTiming } from '../../../bench/peers.ts';
import { peerFigures, peersGoals, peersJson, peersMarkdown, peersSummary, peersTable, stepSeries, type PeerRun } from '../../../bench/peers-report.ts';
import { handSvg, plotRows, plotSpec, renderVegaLite, resample } from '../../../bench/plot.ts';
import type { RunFigures } from '../../../src/sim/fleet/measure.ts';

const SHAPE = { minReplicas: 2, maxReplicas: 20, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '3s' };
const base = { name: 'keda', namespace: 'ns-k', shape: SHAPE, prometheusUrl: 'http://10.250.253.20:9090', monitorLabels: { release: 'x' }, scrapeInterval: '1s', timeScale: 10 };

type Obj = { kind: string; spec: Record<string, any>; metadata: { name: string; labels?: Record<string, string> } };
const byKind = (objects: unknown[], kind: string) => (objects as Obj[]).find((o) => o.kind === kind);

describe('the KEDA sides', () => {
  it('scale a plain Deployment on the summed sessions with the operator target and KEDA defaults compressed', () => {
    const f = kedaFleet(base);
    expect((f.objects as unknown as Obj[]).map((o) => o.kind)).toEqual(['Deployment', 'Service', 'PodMonitor', 'ScaledObject']);
    const so = byKind(f.objects, 'ScaledObject')!;
    expect(so.spec).toMatchObject({ scaleTargetRef: { kind: 'Deployment', name: 'keda' }, minReplicaCount: 2, maxReplicaCount: 20, pollingInterval: 3, cooldownPeriod: 30 });
    // No behavior of its own: the HPA runs with the controller-manager's (compressed) defaults.
    expect(so.spec['advanced']).toBeUndefined();
    expect(so.spec['triggers']).toEqual([
      { type: 'prometheus', metadata: { serverAddress: 'http://10.250.253.20:9090', query: kedaSessionsQuery('ns-k', 'keda'), threshold: '3' } },
    ]);
    expect(kedaSessionsQuery('ns-k', 'keda')).toBe('sum(worker_active_sessions{namespace="ns-k",unmute_sh_fleet="keda",unmute_sh_component="backend"})');
    expect(f.hpa).toBe('keda-hpa-keda');
    const pod = byKind(f.objects, 'Deployment')!.spec['template'].spec;
    expect(pod.containers[0].lifecycle).toBeUndefined();
    expect(pod.terminationGracePeriodSeconds).toBeUndefined();
  });

  it('are scraped by a PodMonitor the Prometheus selects, with the labels of the operator monitors', () => {
    const pm = byKind(kedaFleet(base).objects, 'PodMonitor')!;
    expect(pm.metadata.labels).toEqual({ release: 'x' });
    expect(pm.spec['selector']).toEqual({ matchLabels: { app: 'keda' } });
    const ep = pm.spec['podMetricsEndpoints'][0];
    expect(ep).toMatchObject({ port: 'http', path: '/metrics', interval: '1s' });
    expect(ep.relabelings).toEqual(
      expect.arrayContaining([
        { action: 'replace', targetLabel: 'unmute_sh_fleet', replacement: 'keda' },
        { action: 'replace', targetLabel: 'unmute_sh_component', replacement: 'backend' },
      ]),
    );
  });

  it('with the best practice: a preStop wait on the sessions, the drain timeout as grace period, a PDB', () => {
    const f = kedaFleet({ ...base, name: 'keda-prestop', prestop: { terminationGracePeriodSeconds: 360 } });
    const pod = byKind(f.objects, 'Deployment')!.spec['template'].spec;
    expect(pod.terminationGracePeriodSeconds).toBe(360);
    expect(pod.containers[0].lifecycle).toEqual({ preStop: sessionsWaitHook(8000) });
    expect(byKind(f.objects, 'PodDisruptionBudget')!.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: { app: 'keda-prestop' } } });
    // The plain side's objects are not changed by building this one.
    expect(byKind(kedaFleet(base).objects, 'Deployment')!.spec['template'].spec.containers[0].lifecycle).toBeUndefined();
  });

  it('the hook polls the pod\'s own metrics for worker_active_sessions', () => {
    const cmd = sessionsWaitHook(8000).exec.command;
    expect(cmd.slice(0, 2)).toEqual(['sh', '-c']);
    expect(cmd[2]).toContain('http://127.0.0.1:8000/metrics');
    expect(cmd[2]).toContain('"worker_active_sessions"');
  });
});

function figures(over: Partial<RunFigures> = {}): RunFigures {
  return {
    sessions: 140, completed: 140, dropped: 0, droppedByServices: 0, refused: 0, failed: 0, queuedSeconds: 10, queuedSessions: 5,
    queuedAvoidableSeconds: 0, queuedUnavoidableSeconds: 10, queuedAvoidableSessions: 0, reactions: [], reactionSeconds: 4.04,
    replicaSeconds: 1000, idealReplicaSeconds: 800, replicaRatio: 1.25, pendingReplicaSeconds: 20, drainingReplicaSeconds: 50, peakPods: 12, scaleEvents: 10,
    ...over,
  };
}
const run = (over: Partial<RunFigures> = {}, extra: Partial<PeerRun> = {}): PeerRun => ({ figures: figures(over), timeline: [], drops: [], ...extra });

describe('the figures per side', () => {
  it('counts cuts by cause from the abnormal ends, and writes per second', () => {
    const f = peerFigures(run({}, { drops: [{ atMs: 1, code: 1012, reason: '' }, { atMs: 2, code: 1012, reason: '' }, { atMs: 3, code: 1011, reason: 'x' }], apiWrites: { writes: 50, seconds: 100 } }));
    expect(f).toMatchObject({ cut: 3, cut_by_cause: { scale_down: 2, other: 1 }, reaction_s: 4, replica_s: 1000, replica_s_ratio: 1.25, peak_pods: 12, api_writes: 50, api_writes_per_s: 0.5 });
    expect(peerFigures(run()).api_writes).toBeNull();
  });

  it('checks the goals of each operator side against keda_prestop', () => {
    const s = peersSummary({
      keda: run({ replicaSeconds: 900 }, { drops: [{ atMs: 1, code: 1012, reason: '' }] }),
      keda_prestop: run({ replicaSeconds: 1000, queuedSeconds: 10 }),
      operator_prom: run({ replicaSeconds: 800, queuedSeconds: 10 }),
      operator_pods: run({ replicaSeconds: 850, queuedSeconds: 12 }),
    });
    const goals = peersGoals(s);
    const met = (side: string, start: string) => goals.find((g) => g.side === side && g.goal.startsWith(start))!.met;
    expect(met('operator_prom', 'at least 20')).toBe(true);
    expect(met('operator_pods', 'at least 20')).toBe(false);
    expect(met('operator_prom', 'no more')).toBe(true);
    expect(met('operator_pods', 'no more')).toBe(false);
    expect(met('operator_prom', 'no session cut')).toBe(true);
    // Every side in the JSON, the figures first.
    const json = peersJson(s);
    expect(Object.keys(json)).toEqual([...PEER_SIDES]);
    expect(Object.keys(json.keda).slice(0, 5)).toEqual(['cut', 'queued_s', 'reaction_s', 'replica_s_ratio', 'peak_pods']);
    expect(json.keda.cut).toBe(1);
    // Tables: one column per side.
    expect(peersTable(s).split('\n')[0]).toMatch(/keda\s+keda_prestop\s+operator_prom\s+operator_pods$/);
    const md = peersMarkdown(s).split('\n');
    expect(md[0]).toBe('| figure | `keda` | `keda_prestop` | `operator_prom` | `operator_pods` |');
    expect(md.find((l) => l.startsWith('| used / ideal |'))).toBe('| used / ideal | 1.250 | 1.250 | 1.250 | 1.250 |');
  });

  it('reduces a step series to its changes', () => {
    expect(stepSeries([{ tS: 0, value: 2 }, { tS: 0.25, value: 2 }, { tS: 0.5, value: 3 }, { tS: 0.75, value: 3 }, { tS: 1, value: 3 }])).toEqual([
      { tS: 0, value: 2 },
      { tS: 0.5, value: 3 },
      { tS: 1, value: 3 },
    ]);
  });
});

describe('the plot', () => {
  it('resamples steps at the last value at or before each instant', () => {
    expect(resample([{ tS: 0.5, value: 2 }, { tS: 2.2, value: 5 }], 1, 3)).toEqual([
      { t: 1, value: 2 },
      { t: 2, value: 2 },
      { t: 3, value: 5 },
    ]);
  });

  it('has the sessions, the ideal pods and one pods series per side', () => {
    const rows = plotRows({ sessions: [{ tS: 0, value: 7 }], idealPods: (n) => Math.max(2, Math.ceil(n / 3)), pods: { keda: [{ tS: 0, value: 4 }], operator_pods: [{ tS: 0, value: 3 }] }, stepS: 1, endS: 1 });
    expect(rows).toEqual([
      { t: 0, value: 7, series: 'sessions (trace)' },
      { t: 1, value: 7, series: 'sessions (trace)' },
      { t: 0, value: 3, series: 'ideal pods' },
      { t: 1, value: 3, series: 'ideal pods' },
      { t: 0, value: 4, series: 'pods: keda' },
      { t: 1, value: 4, series: 'pods: keda' },
      { t: 0, value: 3, series: 'pods: operator_pods' },
      { t: 1, value: 3, series: 'pods: operator_pods' },
    ]);
    const spec = plotSpec(rows, 't') as { data: { values: unknown[] }; encoding: { strokeDash: { scale: { domain: string[]; range: number[][] } } } };
    expect(spec.data.values).toHaveLength(8);
    expect(spec.encoding.strokeDash.scale.domain).toEqual(['sessions (trace)', 'ideal pods', 'pods: keda', 'pods: operator_pods']);
    expect(spec.encoding.strokeDash.scale.range[2]).toEqual([1, 0]);
    const svg = handSvg(rows, 'a <title>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('a &lt;title&gt;');
    expect(svg.match(/<path /g)).toHaveLength(4);
  });
});

// vega and vega-lite are optional: where they are installed, the spec must render.
const rendered = await renderVegaLite(plotSpec([{ t: 0, value: 1, series: 'pods: keda' }, { t: 1, value: 2, series: 'pods: keda' }], 'rendered'));

describe('the plot with vega installed', () => {
  it.runIf(rendered !== undefined)('renders the spec headless to SVG', () => {
    expect(rendered!.startsWith('<svg')).toBe(true);
    expect(rendered).toContain('pods: keda');
  });
});

describe('the flags', () => {
  it('parses the known flags and refuses others', () => {
    expect(parsePeersFlags(['--peers', '--quick', '--plot=/tmp/p.svg'])).toEqual({ quick: true, markdown: false, plot: '/tmp/p.svg' });
    expect(() => parsePeersFlags(['--peers', '--plot='])).toThrow();
    expect(() => parsePeersFlags(['--peers', '--window=30'])).toThrow(/unknown flag --window=30/);
  });

  it('states every compression', () => {
    const c = compressions({ timeScale: 10, shape: SHAPE, timing: { intervalSeconds: 1, metricsStaleSeconds: 5, scaleDownStabilizationSeconds: 12, drainTimeoutSeconds: 360, drainGracePeriodSeconds: 360 } }).join('\n');
    expect(c).toContain('sync-period');
    expect(c).toContain('1500ms');
    expect(c).toContain('30000ms');
    expect(c).toContain('pollingInterval 30 s -> 3 s');
    expect(c).toContain('scrape interval');
    expect(c).toContain('metricsStaleSeconds 15 s -> 2 s (so the Prometheus source\'s max_over_time window is 2 s)');
  });

  it('compresses metricsStaleSeconds with the rest, never below two intervals', () => {
    const timing = { intervalSeconds: 1, metricsStaleSeconds: 5, scaleDownStabilizationSeconds: 12, drainTimeoutSeconds: 360, drainGracePeriodSeconds: 360 };
    expect(peersTiming({ timeScale: 10, timing })).toEqual({ ...timing, metricsStaleSeconds: 2 });
    expect(peersTiming({ timeScale: 1, timing: { ...timing, intervalSeconds: 5 } }).metricsStaleSeconds).toBe(15);
  });
});
