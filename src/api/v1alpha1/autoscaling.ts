// spec.autoscaling: scaling on live sessions (worker_active_sessions) that never cuts a conversation.
import { z } from 'zod';

const prometheusMetricsSource = z.object({
  url: z.url().max(2048).describe('Base URL of the Prometheus HTTP API, e.g. http://prometheus-operated.monitoring:9090.'),
  query: z
    .string()
    .min(1)
    .max(4096)
    .default('max by (pod) (max_over_time(worker_active_sessions{namespace="{{namespace}}",unmute_sh_fleet="{{name}}",unmute_sh_component="backend"}[{{window}}]))')
    .describe('Instant query giving one series per backend pod (label `pod`). {{namespace}}, {{name}} and {{window}} are substituted.'),
});

export const autoscaling = z
  .object({
    enabled: z.boolean().default(false).describe('Scale backends (and STT/TTS/LLM in proportion) on live sessions.'),
    minReplicas: z.int().min(1).max(1000).default(1).describe('Fewest backend replicas.'),
    maxReplicas: z.int().min(1).max(1000).default(10).describe('Most backend replicas.'),
    targetSessionsPerPod: z
      .int()
      .min(1)
      .max(64)
      .default(3)
      .describe('Sessions per backend the fleet aims for; below maxSessionsPerPod so a rush finds free slots.'),
    headroomSessions: z.int().min(0).max(10000).default(0).describe('Extra free sessions kept ready on top of the load.'),
    intervalSeconds: z.int().min(1).max(300).default(5).describe('How often pod metrics are read and a decision is taken.'),
    metricsStaleSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(15)
      .describe('A pod whose last good reading is older than this counts as unknown (never as zero).'),
    scaleUpMaxStep: z.int().min(1).max(1000).default(10).describe('Most backends added in one decision.'),
    // Shorter than the HPA's 300 s on purpose: a scale-down here only drains, and a draining pod
    // goes back into service at once if load returns, so a wrong guess costs no conversation.
    scaleDownStabilizationSeconds: z
      .int()
      .min(0)
      .max(86400)
      .default(120)
      .describe('Scale down only to the highest recommendation seen during this window. Shorter than the HPA default (300 s) because scale-down only drains: draining pods return to service at once when load comes back.'),
    drainTimeoutSeconds: z
      .int()
      .min(0)
      .max(86400)
      .default(3600)
      .describe('A draining backend is removed when empty, or after this long at the latest.'),
    followers: z
      .object({
        stt: z.boolean().default(true).describe('Scale STT on its open streams (asr_open_channels), draining the emptiest pods on the way down.'),
        tts: z.boolean().default(true).describe('Scale TTS on its open streams (py_open_channels), draining the emptiest pods on the way down.'),
        llm: z.boolean().default(true).describe('Scale an in-cluster LLM on its running and waiting requests, draining the emptiest pods on the way down.'),
        targetUtilization: z
          .number()
          .min(0.1)
          .max(1)
          .default(0.8)
          .describe('Fraction of a GPU pod\'s slots the autoscaler aims to use; the rest absorbs bursts while a new pod loads its model.'),
      })
      .prefault({})
      .describe('GPU components sized on their own load (streams, requests), with a floor from the backends and headroom for their start-up time.'),
    metrics: z
      .object({
        source: z.enum(['Pods', 'Prometheus']).default('Pods').describe('Read each pod\'s load directly (its /metrics), or ask Prometheus.'),
        prometheus: prometheusMetricsSource.optional().describe('Where and what to ask when source is Prometheus.'),
        timeoutSeconds: z.int().min(1).max(60).default(2).describe('Timeout of one metrics read.'),
      })
      .prefault({})
      .meta({
        'x-kubernetes-validations': [
          { rule: "!has(self.source) || self.source != 'Prometheus' || has(self.prometheus)", message: 'metrics.prometheus is required when metrics.source is Prometheus' },
        ],
      })
      .describe('Where the live session counts come from.'),
  })
  .meta({
    'x-kubernetes-validations': [
      // has(): the API server also checks CEL against the schema's own defaults, before nested defaulting.
      { rule: '!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas', message: 'autoscaling.minReplicas must not exceed autoscaling.maxReplicas' },
      {
        rule: '!has(self.drainTimeoutSeconds) || !has(self.intervalSeconds) || self.drainTimeoutSeconds == 0 || self.drainTimeoutSeconds >= self.intervalSeconds',
        message: 'autoscaling.drainTimeoutSeconds must be at least one interval',
      },
    ],
  })
  .describe('Session-aware autoscaling.');

export type AutoscalingSpec = z.output<typeof autoscaling>;
