// The pure parts of the cluster add-ons: what the harness changes in prometheus-operator's
// generated configuration (fixture: a configuration the real prometheus-operator v0.90.1 generated
// for a fleet's ServiceMonitors and PrometheusRule), the HPA and aggregation flags.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { addonAddress, ADDON_ADDRESSES, serviceAt } from '../../../scripts/cluster/addons.ts';
import { apiserverArgs, controllerManagerArgs, hpaArgs, hpaFlagsForTimeScale } from '../../../scripts/cluster/components.ts';
import type { ClusterPki } from '../../../scripts/cluster/certs.ts';
import { podMonitor } from '../../../scripts/cluster/peers.ts';
import { prometheusResource, rewriteGeneratedConfig } from '../../../scripts/cluster/prometheus-pipeline.ts';

const generated = readFileSync(new URL('../../fixtures/prometheus-operator/generated-prometheus.yaml', import.meta.url), 'utf8');
const opts = {
  apiServer: 'https://127.0.0.1:6443',
  caFile: '/state/pki/ca.crt',
  tokenFile: '/state/prometheus/token',
  rulesDir: '/state/prometheus/rules',
  env: { POD_NAME: 'prometheus-k8s-0', SHARD: '0' },
};

/** Lines of `b` not in `a` and of `a` not in `b`, in order (a line diff good enough for these files). */
function changedLines(a: string, b: string): { removed: string[]; added: string[] } {
  const as = a.split('\n');
  const bs = b.split('\n');
  const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const ca = count(as);
  const cb = count(bs);
  return {
    removed: [...ca].flatMap(([l, n]) => Array<string>(Math.max(0, n - (cb.get(l) ?? 0))).fill(l)),
    added: [...cb].flatMap(([l, n]) => Array<string>(Math.max(0, n - (ca.get(l) ?? 0))).fill(l)),
  };
}

describe('rewriteGeneratedConfig', () => {
  const { yaml, changes } = rewriteGeneratedConfig(generated, opts);
  const before = parseYaml(generated) as { scrape_configs: Array<Record<string, unknown>> };
  const after = parseYaml(yaml) as {
    global: { external_labels: Record<string, string> };
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; kubernetes_sd_configs: Array<Record<string, unknown>>; relabel_configs: unknown[] }>;
  };

  it('gives every Kubernetes discovery the API server address and the credentials a pod would have mounted', () => {
    expect(after.scrape_configs.map((j) => j.job_name)).toEqual(['serviceMonitor/voice/voice-backend/0', 'serviceMonitor/voice/voice-stt/0', 'serviceMonitor/voice/voice-tts/0']);
    for (const job of after.scrape_configs) {
      expect(job.kubernetes_sd_configs).toEqual([
        {
          role: 'endpoints',
          namespaces: { names: ['voice'] },
          api_server: 'https://127.0.0.1:6443',
          tls_config: { ca_file: '/state/pki/ca.crt' },
          authorization: { type: 'Bearer', credentials_file: '/state/prometheus/token' },
        },
      ]);
    }
  });

  it('points the rule files at the local copies of the rulefiles ConfigMaps', () => {
    expect(after.rule_files).toEqual([0, 1, 2].map((i) => `/state/prometheus/rules/prometheus-k8s-rulefiles-${i}/*.yaml`));
  });

  it("expands $(POD_NAME) and $(SHARD) as the config-reloader does", () => {
    expect(after.global.external_labels).toEqual({ prometheus: 'monitoring/k8s', prometheus_replica: 'prometheus-k8s-0' });
    expect(yaml).not.toContain('$(');
    const keep = (j: { relabel_configs: unknown[] }) => JSON.stringify(j.relabel_configs);
    expect(keep(after.scrape_configs[0]!)).toContain('"regex":"0;|.+;.+"');
  });

  it('changes nothing else: the line diff is exactly the rewrites', () => {
    const { removed, added } = changedLines(generated, yaml);
    const allowedRemoved = /^(- \/etc\/prometheus\/rules\/.*|    prometheus_replica: \$\(POD_NAME\)|    regex: \$\(SHARD\);\|\.\+;\.\+|# .*)$/;
    expect(removed.filter((l) => !allowedRemoved.test(l))).toEqual([]);
    const allowedAdded = /^(- \/state\/prometheus\/rules\/.*|    prometheus_replica: prometheus-k8s-0|    regex: 0;\|\.\+;\.\+|    api_server: https:\/\/127\.0\.0\.1:6443|    tls_config:|      ca_file: \/state\/pki\/ca\.crt|    authorization:|      type: Bearer|      credentials_file: \/state\/prometheus\/token)$/;
    expect(added.filter((l) => !allowedAdded.test(l))).toEqual([]);
    // Relabelings, intervals, paths: identical.
    for (const [i, job] of before.scrape_configs.entries()) {
      const { kubernetes_sd_configs: _a, ...rest } = job;
      const { kubernetes_sd_configs: _b, ...restAfter } = after.scrape_configs[i]! as unknown as Record<string, unknown>;
      expect(JSON.stringify(restAfter).replaceAll('"0;|.+;.+"', '"$(SHARD);|.+;.+"')).toBe(JSON.stringify(rest));
    }
    expect(changes.filter((c) => c.includes('kubernetes_sd_configs'))).toHaveLength(3);
  });

  it('leaves a discovery that names its own API server alone, and refuses what only a pod has', () => {
    const own = generated.replace('  - role: endpoints\n', '  - role: endpoints\n    api_server: https://elsewhere:6443\n');
    const r = rewriteGeneratedConfig(own, opts);
    expect((parseYaml(r.yaml) as typeof after).scrape_configs[0]!.kubernetes_sd_configs[0]!['api_server']).toBe('https://elsewhere:6443');
    expect(() => rewriteGeneratedConfig(`${generated}\n# $(OTHER)\n`, opts)).toThrow(/\$\(OTHER\)/);
    expect(() => rewriteGeneratedConfig(generated.replace('metrics_path: /metrics', 'metrics_path: /metrics\n  tls_config:\n    ca_file: /etc/prometheus/secrets/x/ca'), opts)).toThrow(/\/etc\/prometheus\/secrets\//);
  });
});

describe('aggregation layer and HPA flags', () => {
  const pki = {
    dir: '/p', ca: { cert: '/p/ca.crt', key: '/p/ca.key' }, apiserver: { cert: 'a', key: 'a' }, admin: { cert: 'a', key: 'a' },
    controllerManager: { cert: 'c', key: 'c' }, scheduler: { cert: 's', key: 's' }, kwok: { cert: 'k', key: 'k' }, saKey: 'sa', saPub: 'sp',
  } satisfies ClusterPki;
  const ports = { apiserver: 6443, etcdClient: 2379, etcdPeer: 2380 };

  it('passes the front proxy and aggregator routing to kube-apiserver only with a front-proxy PKI', () => {
    expect(apiserverArgs('/d', pki, ports, 'full').some((a) => a.startsWith('--requestheader') || a.startsWith('--proxy-client'))).toBe(false);
    const withProxy = apiserverArgs('/d', { ...pki, frontProxy: { ca: { cert: '/p/fp-ca.crt', key: '/p/fp-ca.key' }, client: { cert: '/p/fpc.crt', key: '/p/fpc.key' }, clientName: 'front-proxy-client' } }, ports, 'full');
    expect(withProxy).toEqual(expect.arrayContaining([
      '--requestheader-client-ca-file=/p/fp-ca.crt',
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--proxy-client-cert-file=/p/fpc.crt',
      '--proxy-client-key-file=/p/fpc.key',
      '--enable-aggregator-routing=true',
    ]));
  });

  it('sets the HPA controller flags of kube-controller-manager', () => {
    expect(hpaArgs({})).toEqual([]);
    expect(controllerManagerArgs('/d', pki, '/k', { syncPeriod: '1s', downscaleStabilization: '30s', tolerance: 0.05 })).toEqual(expect.arrayContaining([
      '--horizontal-pod-autoscaler-sync-period=1s',
      '--horizontal-pod-autoscaler-downscale-stabilization=30s',
      '--horizontal-pod-autoscaler-tolerance=0.05',
    ]));
    expect(() => hpaArgs({ syncPeriod: 'soon' })).toThrow();
  });

  it('compresses the HPA defaults by the benchmark time scale, with a floor on the sync period', () => {
    expect(hpaFlagsForTimeScale(1)).toEqual({ syncPeriod: '15000ms', downscaleStabilization: '300000ms' });
    expect(hpaFlagsForTimeScale(10)).toEqual({ syncPeriod: '1500ms', downscaleStabilization: '30000ms' });
    expect(hpaFlagsForTimeScale(60)).toEqual({ syncPeriod: '250ms', downscaleStabilization: '5000ms' });
    expect(hpaFlagsForTimeScale(60, { minSyncMs: 1000 }).syncPeriod).toBe('1000ms');
    expect(() => hpaFlagsForTimeScale(0.5)).toThrow();
  });
});

describe('add-on objects', () => {
  it('places add-ons on addresses no node hands out', () => {
    expect(addonAddress(ADDON_ADDRESSES.prometheusBase, 0)).toBe('10.250.253.20');
    expect(addonAddress(ADDON_ADDRESSES.prometheusBase, 3)).toBe('10.250.253.23');
    expect(() => addonAddress('10.250.253.250', 10)).toThrow();
  });

  it('registers a process of the netns as a selector-less Service with its own EndpointSlice', () => {
    const [svc, slice] = serviceAt('keda', 'keda-metrics-apiserver', '10.250.253.10', { name: 'https', port: 443, targetPort: 6443 }) as Array<Record<string, any>>;
    expect(svc!['spec']).toEqual({ ports: [{ name: 'https', port: 443, targetPort: 6443, protocol: 'TCP' }] });
    expect(slice!['metadata'].labels['kubernetes.io/service-name']).toBe('keda-metrics-apiserver');
    expect(slice!['endpoints']).toEqual([{ addresses: ['10.250.253.10'], conditions: { ready: true } }]);
    expect(slice!['ports']).toEqual([{ name: 'https', port: 6443, protocol: 'TCP' }]);
  });

  it('renders a Prometheus selecting monitors and rules by label in every namespace', () => {
    const p = prometheusResource({ namespace: 'monitoring', name: 'k8s', serviceAccountName: 'prometheus', selector: { release: 'unmute' } }) as unknown as { spec: Record<string, unknown> };
    expect(p.spec).toMatchObject({
      version: 'v3.10.0',
      serviceAccountName: 'prometheus',
      serviceMonitorSelector: { matchLabels: { release: 'unmute' } },
      serviceMonitorNamespaceSelector: {},
      ruleSelector: { matchLabels: { release: 'unmute' } },
      ruleNamespaceSelector: {},
    });
  });

  it('gives pods without a monitor of their own (a baseline Deployment) a PodMonitor with the same target labels', () => {
    const pm = podMonitor({
      namespace: 'bench', name: 'baseline-backend', matchLabels: { app: 'baseline' }, labels: { release: 'unmute' }, port: 'http',
      interval: '1s', targetLabels: { unmute_sh_fleet: 'baseline', unmute_sh_component: 'backend' },
    }) as unknown as { metadata: { labels: Record<string, string> }; spec: { selector: unknown; podMetricsEndpoints: Array<Record<string, unknown>> } };
    expect(pm.metadata.labels).toEqual({ release: 'unmute' });
    expect(pm.spec.selector).toEqual({ matchLabels: { app: 'baseline' } });
    expect(pm.spec.podMetricsEndpoints).toEqual([{
      port: 'http', path: '/metrics', interval: '1s',
      relabelings: [
        { action: 'replace', targetLabel: 'job', replacement: 'baseline-backend' },
        { action: 'replace', targetLabel: 'unmute_sh_fleet', replacement: 'baseline' },
        { action: 'replace', targetLabel: 'unmute_sh_component', replacement: 'backend' },
      ],
    }]);
  });
});
