// The UnmuteDeployments `check` looks at (from -f, or read from the cluster), and what each one
// refers to that must exist before it can run: Secrets, volume claims, Gateways, its namespace.
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND, initialReplicas, parseUnmuteDeployment, renderFleet, secretRefs, type UnmuteDeployment } from './fleet-facts.ts';
import type { FleetInput } from './types.ts';

/** Every UnmuteDeployment in a YAML stream; other documents are listed, not checked. */
export function fleetsFromYaml(text: string, source: string, defaultNamespace: string): { fleets: FleetInput[]; ignored: string[] } {
  const fleets: FleetInput[] = [];
  const ignored: string[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    const where = `${source}#${i + 1}`;
    if (doc.errors.length > 0) {
      fleets.push({ source: where, namespace: defaultNamespace, name: `document ${i + 1}`, parsed: { ok: false, problems: [`YAML: ${doc.errors[0]!.message}`] } });
      continue;
    }
    const raw: unknown = doc.toJS();
    if (raw === null || raw === undefined) continue;
    const obj = (typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    if (obj.kind !== KIND) {
      ignored.push(`${where}: ${String(obj.kind ?? 'no kind')} ${String(obj.metadata?.name ?? '')}`.trim());
      continue;
    }
    const namespace = typeof obj.metadata?.namespace === 'string' ? obj.metadata.namespace : defaultNamespace;
    const name = typeof obj.metadata?.name === 'string' ? obj.metadata.name : `document ${i + 1}`;
    const problems: string[] = [];
    if (obj.apiVersion !== API_VERSION) problems.push(`apiVersion: expected ${API_VERSION}, got ${String(obj.apiVersion)}`);
    const parsed = parseUnmuteDeployment({ ...obj, metadata: { ...obj.metadata, namespace } });
    if (!parsed.ok) problems.push(...parsed.problems);
    fleets.push({ source: where, namespace, name, parsed: problems.length === 0 && parsed.ok ? parsed : { ok: false, problems } });
  }
  return { fleets, ignored };
}

/** An UnmuteDeployment read from the cluster. */
export function fleetFromCluster(raw: { metadata: { name?: string; namespace?: string } }): FleetInput {
  const parsed = parseUnmuteDeployment(raw);
  return { source: 'cluster', namespace: raw.metadata.namespace ?? '', name: raw.metadata.name ?? '', parsed };
}

export interface SecretNeed {
  name: string;
  /** The key that must be in it; undefined when any content will do (TLS, pull secrets). */
  key?: string;
  field: string;
}

export interface FleetReferences {
  secrets: SecretNeed[];
  claims: { name: string; field: string }[];
  gateways: { namespace: string; name: string; sectionName?: string }[];
}

/** Every object the CR names that must exist in the cluster. */
export function fleetReferences(fleet: UnmuteDeployment): FleetReferences {
  const { spec, metadata } = fleet;
  const secrets: SecretNeed[] = secretRefs(fleet).map(({ field, ref }) => ({ name: ref.name, key: ref.key, field }));
  const claims: FleetReferences['claims'] = [];
  const tiers = {
    backend: spec.backend,
    stt: spec.stt,
    tts: spec.tts,
    'llm.inCluster': spec.llm.inCluster,
    voiceCloning: spec.voiceCloning?.enabled ? spec.voiceCloning : undefined,
    frontend: spec.frontend,
    'redis.inCluster': spec.redis?.inCluster,
  };
  for (const [path, tier] of Object.entries(tiers)) {
    if (tier === undefined) continue;
    for (const s of tier.imagePullSecrets ?? []) secrets.push({ name: s.name, field: `spec.${path}.imagePullSecrets` });
    const cache = 'modelCache' in tier ? tier.modelCache : undefined;
    if (cache?.persistentVolumeClaim) claims.push({ name: cache.persistentVolumeClaim.claimName, field: `spec.${path}.modelCache.persistentVolumeClaim` });
  }
  const tls = spec.exposure?.ingress?.tlsSecretName;
  if (tls !== undefined) secrets.push({ name: tls, field: 'spec.exposure.ingress.tlsSecretName' });
  const gateways = (spec.exposure?.gateway?.parentRefs ?? []).map((p) => ({
    namespace: p.namespace ?? metadata.namespace,
    name: p.name,
    ...(p.sectionName === undefined ? {} : { sectionName: p.sectionName }),
  }));
  return { secrets, claims, gateways };
}

/** What the first apply would create, with every optional API assumed present. */
export function renderedObjects(fleet: UnmuteDeployment) {
  return renderFleet(fleet, {
    capabilities: { prometheusOperator: true, gatewayApi: true, httpRouteTimeouts: true, grafanaOperator: fleet.spec.monitoring.dashboards.grafanaOperator.enabled, nodeDrains: true },
    replicas: initialReplicas(fleet),
  });
}
