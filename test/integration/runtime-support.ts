// Shared setup of the runtime integration tests (test/integration/runtime-*.test.ts): a KubeClient on the
// run's cluster and a throwaway CRD with a status subresource (the runtime is kind-agnostic).
import { installObjects } from '../../scripts/cluster/crds.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { createMetricsRegistry, createRuntimeMetrics, type RuntimeMetrics } from '../../src/observability/metrics.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { kubeConfig, waitFor } from '../support/cluster.ts';

export async function aKubeClient(): Promise<{ client: KubeClient; metrics: RuntimeMetrics }> {
  const metrics = createRuntimeMetrics(createMetricsRegistry());
  const client = await KubeClient.fromKubeConfig(kubeConfig(), { metrics });
  return { client, metrics };
}

/** Warnings and errors to stderr, so a failing run shows what the runtime complained about. */
export function testLogger(): Logger {
  return createLogger({ level: 'warn', destination: { write: (s: string) => void process.stderr.write(s) } });
}

export const WIDGET = { apiVersion: 'runtimetest.unmute.sh/v1', kind: 'Widget' } as const;

/** Installs `widgets.runtimetest.unmute.sh` (namespaced, status subresource) once per cluster. */
export async function ensureWidgetCrd(client: KubeClient): Promise<void> {
  const crd: KubeObject = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.runtimetest.unmute.sh' },
    spec: {
      group: 'runtimetest.unmute.sh',
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                status: {
                  type: 'object',
                  properties: {
                    observedGeneration: { type: 'integer' },
                    conditions: {
                      type: 'array',
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['type'],
                      items: {
                        type: 'object',
                        required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
                        properties: {
                          type: { type: 'string' },
                          status: { type: 'string' },
                          observedGeneration: { type: 'integer' },
                          lastTransitionTime: { type: 'string', format: 'date-time' },
                          reason: { type: 'string' },
                          message: { type: 'string' },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
  await installObjects(client, [crd], 30_000);
  // Discovery may lag the Established condition for a moment.
  await waitFor('Widget CRD to be served', async () => {
    client.invalidateDiscovery(WIDGET.apiVersion);
    return client.isServed(WIDGET.apiVersion, WIDGET.kind);
  });
}
