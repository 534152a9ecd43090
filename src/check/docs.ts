// Doc sections the checks link to. test/unit/check/check-docs.test.ts fails when a heading moves.
import { DEFAULT_RUNBOOK_BASE_URL } from './fleet-facts.ts';

export const DOC = {
  prerequisites: 'docs/getting-started.md#prerequisites',
  kubernetes: 'docs/getting-started.md#kubernetes',
  gpuNodes: 'docs/getting-started.md#gpu-nodes',
  prometheus: 'docs/getting-started.md#prometheus',
  grafana: 'docs/getting-started.md#grafana',
  gateway: 'docs/getting-started.md#a-gateway-or-an-ingress',
  images: 'docs/getting-started.md#build-the-three-images',
  installOperator: 'docs/getting-started.md#install-the-operator',
  secrets: 'docs/getting-started.md#secrets-and-the-model-cache',
  writeCr: 'docs/getting-started.md#write-the-unmutedeployment',
  opsRbac: 'docs/operations.md#rbac',
  opsUpgrade: 'docs/operations.md#upgrading',
  opsNamespaced: 'docs/operations.md#namespaced-mode',
  opsTimeouts: 'docs/operations.md#exposure-defaults',
  monitoringConfig: 'docs/monitoring.md#configuration-specmonitoring',
  monitoringWithoutOperator: 'docs/monitoring.md#prometheus-without-the-prometheus-operator',
} as const;

/** The repository's blob root, from the runbook default (`.../blob/main/docs/monitoring.md`). */
export const DOCS_BASE_URL = DEFAULT_RUNBOOK_BASE_URL.replace(/docs\/monitoring\.md$/, '');

export const docUrl = (doc: string): string => `${DOCS_BASE_URL}${doc}`;
