// spec.monitoring: scraping, alerts and dashboards generated for the fleet.
// Owned by the monitoring renderers (src/monitoring); every default here is what a fleet gets
// without writing a line of monitoring configuration.
import { z } from 'zod';
import { serviceUrl } from './common.ts';

const promDuration = z
  .string()
  .regex(/^(0|([0-9]+(ms|s|m|h|d|w|y))+)$/, 'must be a Prometheus duration such as 30s, 5m or 1h30m')
  .max(32);

const DEFAULT_SCRAPE_INTERVAL = '5s';

/** Scrape timings: units CEL's duration() reads too, so the timeout can be compared with the interval at apply. */
const scrapeDuration = z
  .string()
  .regex(/^([0-9]+(ms|s|m|h))+$/, 'must be a duration in ms, s, m or h such as 5s, 30s or 1m')
  .max(32);

/** Prometheus label names a user may add; the ones the scrape configuration sets itself are refused. */
export const RESERVED_TARGET_LABELS = [
  'le',
  'quantile',
  'namespace',
  'pod',
  'job',
  'instance',
  'container',
  'endpoint',
  'service',
  'unmute_sh_fleet',
  'unmute_sh_component',
  'fleet',
  'component',
] as const;
const LABEL_NAME_PATTERN = '^[a-zA-Z][a-zA-Z0-9_]*$';

/** Where runbooks live unless spec.monitoring.alerts.runbookBaseUrl says otherwise. */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/unmute-operator/unmute-operator/blob/main/docs/monitoring.md';

const severity = z.enum(['critical', 'warning', 'info']);

interface TuningDefaults {
  for: string;
  severity: 'critical' | 'warning' | 'info';
}

/** Fields every alert has: on/off, how long the condition must hold, and its severity label. */
const baseTuning = (d: TuningDefaults) => ({
  enabled: z.boolean().default(true).describe('Render this alert.'),
  for: promDuration.default(d.for).describe('How long the condition must hold before the alert fires.'),
  severity: severity.default(d.severity).describe('Value of the `severity` label (routing in Alertmanager).'),
});

/** An alert with a numeric threshold; `what` documents the threshold's unit and direction. */
const thresholdAlert = (threshold: number, d: TuningDefaults, what: string) =>
  z.object({ ...baseTuning(d), threshold: z.number().min(0).default(threshold).describe(what) }).prefault({});

/** An alert that is a condition only (no threshold). */
const conditionAlert = (d: TuningDefaults) => z.object(baseTuning(d)).prefault({});

/**
 * Latency alerts read histogram buckets directly instead of interpolating a quantile: the share of
 * requests slower than a bucket bound is exact, and it stays meaningful when the slow requests all
 * land in the +Inf bucket (a quantile there is capped at the highest finite bound and never exceeds it).
 */
const latencyAlert = (threshold: number, max: number, d: TuningDefaults, what: string) =>
  z
    .object({
      ...baseTuning(d),
      threshold: z
        .number()
        .min(0)
        .max(max)
        .default(threshold)
        .describe(`${what} Rounded up to the next histogram bucket bound; at most ${max} s, the highest finite bucket.`),
      quantile: z
        .number()
        .min(0.5)
        .max(0.999)
        .default(0.95)
        .describe('Fires when more than (1 - quantile) of requests are slower than the threshold, i.e. the quantile is above it.'),
    })
    .prefault({});

export const alerts = z
  .object({
    enabled: z.boolean().default(true).describe('Render a PrometheusRule with the alerts below.'),
    labels: z.record(z.string(), z.string()).optional().describe('Extra labels on every alert (e.g. team routing).'),
    runbookBaseUrl: serviceUrl(['http', 'https'], 'alerts.runbookBaseUrl', 'runbooks are public pages')
      .default(DEFAULT_RUNBOOK_BASE_URL)
      .describe('Where the runbooks live; each alert links to `<runbookBaseUrl>#<alert anchor>`.'),
    highErrorRate: thresholdAlert(0.1, { for: '5m', severity: 'critical' }, 'Unexpected session errors (worker_hard_errors) per second across the fleet.').describe('UnmuteHighErrorRate: sessions failing with unexpected errors.'),
    highTtsLatency: latencyAlert(0.5, 0.55, { for: '5m', severity: 'warning' }, 'TTS time to first audio, seconds.').describe('UnmuteHighTtsLatency: replies wait too long for their first audio.'),
    serviceUnavailable: thresholdAlert(
      0,
      { for: '1m', severity: 'critical' },
      'Sessions killed per second because STT/TTS were full or timed out (alert when above).',
    ).describe('UnmuteServiceUnavailable: sessions refused because STT or TTS were full.'),
    sessionsQueueing: thresholdAlert(
      0,
      { for: '2m', severity: 'warning' },
      'Sessions waiting for a slot on one backend beyond backend.maxSessionsPerPod (alert when above).',
    ).describe('UnmuteSessionsQueueing: callers wait for a slot on a full backend.'),
    fleetNearCapacity: thresholdAlert(0.9, { for: '5m', severity: 'warning' }, 'Fraction of the fleet session capacity in use (alert when above).').describe('UnmuteFleetNearCapacity: most session slots are in use.'),
    capacityMisses: thresholdAlert(
      0.05,
      { for: '5m', severity: 'warning' },
      'STT or TTS instance searches per second that found no free slot (alert when above).',
    ).describe('UnmuteCapacityMisses: backends often find no free STT or TTS slot.'),
    backendUnhealthy: thresholdAlert(
      0.9,
      { for: '3m', severity: 'critical' },
      'Healthy fraction of one backend\'s health evaluations (worker_health_ok); alert when below.',
    ).describe('UnmuteBackendUnhealthy: a backend cannot reach STT, TTS or the LLM.'),
    highLlmLatency: latencyAlert(1, 1, { for: '5m', severity: 'warning' }, 'LLM time to first token as seen by the backend, seconds.').describe('UnmuteHighLlmLatency: the LLM is slow to start answering.'),
    gpuPodsPending: thresholdAlert(0, { for: '10m', severity: 'warning' }, 'Pending pods of a GPU tier (alert when above).').describe('UnmuteGpuPodsPending: GPU pods find no node.'),
    autoscalerAtMax: conditionAlert({ for: '15m', severity: 'warning' }).describe('UnmuteAutoscalerAtMax: autoscaling held back by maxReplicas or the GPU budget.'),
    targetDown: conditionAlert({ for: '5m', severity: 'warning' }).describe('UnmuteTargetDown: a scrape target of the fleet is down.'),
    metricsAbsent: conditionAlert({ for: '5m', severity: 'critical' }).describe('UnmuteMetricsAbsent: no session metrics, or no operator metrics, for the fleet.'),
    drainStuck: z
      .object({
        ...baseTuning({ for: '1m', severity: 'warning' }),
        thresholdSeconds: z
          .int()
          .min(60)
          .max(604800)
          .optional()
          .describe(
            'Seconds a backend may drain before the alert fires. Default: the longer of autoscaling.drainTimeoutSeconds and backend.drainGracePeriodSeconds, plus 5 minutes.',
          ),
      })
      .prefault({})
      .describe('UnmuteDrainStuck: a backend drains for longer than expected.'),
  })
  .prefault({})
  .describe('Alerts of the generated PrometheusRule; each one can be turned off or tuned.');

export const dashboards = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe("Dashboards for the fleet: links in status to the shared set (the chart's, with namespace and fleet variables), and per-fleet copies when perFleet is on."),
    perFleet: z
      .boolean()
      .default(false)
      .describe(
        "Also render this fleet's own copy of each dashboard as ConfigMaps for the Grafana sidecar (own uid and title, variables preselected), e.g. for a tenant's Grafana that only sees this namespace or a folder of its own. Off: the shared set the Helm chart installs once per cluster serves every fleet.",
      ),
    labelKey: z.string().min(1).max(253).default('grafana_dashboard').describe('Label the Grafana sidecar looks for.'),
    labelValue: z.string().max(63).default('1').describe('Value of that label.'),
    folder: z.string().max(253).optional().describe('Grafana folder, set through the folder annotation.'),
    folderAnnotation: z.string().max(253).default('grafana_folder').describe('Annotation the sidecar reads the folder from.'),
    grafanaOperator: z
      .object({
        enabled: z.boolean().default(false).describe('Also render grafana-operator GrafanaDashboard objects.'),
        instanceSelector: z
          .record(z.string(), z.string())
          .optional()
          .describe('matchLabels of the Grafana instances (empty: every instance).'),
      })
      .prefault({})
      .describe('Dashboards as grafana-operator GrafanaDashboard objects.'),
  })
  .prefault({})
  .describe('Grafana dashboards of the fleet.');

export const monitoring = z
  .object({
    enabled: z.boolean().default(true).describe('Generate scrape configuration, alerts and dashboards.'),
    scrapeKind: z
      .enum(['ServiceMonitor', 'PodMonitor'])
      .default('ServiceMonitor')
      .describe('Which prometheus-operator object selects the targets.'),
    interval: scrapeDuration.default(DEFAULT_SCRAPE_INTERVAL).describe('Scrape interval (Unmute recommends 5s; 30s to save cost).'),
    scrapeTimeout: scrapeDuration.optional().describe('Scrape timeout; must not exceed the interval. Prometheus default when unset.'),
    labels: z
      .record(z.string(), z.string())
      .optional()
      .describe('Labels on every monitoring object so your Prometheus selects them, e.g. {release: kube-prometheus-stack}.'),
    targetLabels: z
      .record(z.string(), z.string())
      .refine((m) => Object.keys(m).every((k) => new RegExp(LABEL_NAME_PATTERN).test(k)), 'label names must match ' + LABEL_NAME_PATTERN)
      .refine(
        (m) => Object.keys(m).every((k) => !(RESERVED_TARGET_LABELS as readonly string[]).includes(k)),
        `label names must not be one of ${RESERVED_TARGET_LABELS.join(', ')}`,
      )
      .optional()
      .meta({
        maxProperties: 16,
        'x-kubernetes-validations': [
          {
            rule: `self.all(k, k.matches('${LABEL_NAME_PATTERN}') && !(k in [${RESERVED_TARGET_LABELS.map((l) => `'${l}'`).join(', ')}]))`,
            message: `label names must match ${LABEL_NAME_PATTERN} and not be one the scrape configuration sets (${RESERVED_TARGET_LABELS.join(', ')})`,
          },
        ],
      })
      .describe('Constant labels added to every scraped series, e.g. {cluster: eu-1}.'),
    podAnnotations: z
      .boolean()
      .default(false)
      .describe('Also put prometheus.io/scrape, port and path annotations on pods (for Prometheus without the operator).'),
    alerts,
    dashboards,
  })
  .refine((m) => m.scrapeTimeout === undefined || goDurationMs(m.scrapeTimeout) <= goDurationMs(m.interval), {
    message: 'monitoring.scrapeTimeout must not exceed monitoring.interval',
    path: ['scrapeTimeout'],
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: `!has(self.scrapeTimeout) || duration(self.scrapeTimeout) <= duration(has(self.interval) ? self.interval : '${DEFAULT_SCRAPE_INTERVAL}')`,
        message: 'monitoring.scrapeTimeout must not exceed monitoring.interval (Prometheus refuses such a scrape configuration)',
      },
    ],
  })
  .prefault({})
  .describe('Monitoring generated for the fleet.');

/** Milliseconds of a scrape duration (`1m30s`, `500ms`). */
function goDurationMs(d: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return [...d.matchAll(/([0-9]+)(ms|s|m|h)/g)].reduce((sum, [, n, u]) => sum + Number(n) * unit[u!]!, 0);
}

export type MonitoringSpec = z.output<typeof monitoring>;
export type AlertsSpec = z.output<typeof alerts>;
export type DashboardsSpec = z.output<typeof dashboards>;
