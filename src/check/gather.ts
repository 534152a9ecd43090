// Reads, once, everything the checks need. Only get, list and access reviews: nothing persistent
// is created or changed. Each read that fails is kept as an error for the check that needs it.
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/object.ts';
import { sidecarViews } from './checks/grafana.ts';
import { binaryCrdSchemaHash } from './crd-hash.ts';
import { GROUP, PLURAL } from './fleet-facts.ts';
import { fleetFromCluster, fleetReferences } from './fleets.ts';
import { findOperators, reviewAccess } from './gather-operator.ts';
import { HTTP_ROUTE_TIMEOUTS_PATH } from '../render/exposure.ts';
import { servedSchemaHasField } from '../runtime/openapi.ts';
import { KINDS, servedKey } from './kinds.ts';
import { isExtendedResource, nodeInfo } from './scheduling.ts';
import { attempt, getMaybe, listItems, mapLimit } from './read.ts';
import { factError, factOk, key, type Fact, type Facts, type FleetInput } from './types.ts';

export interface GatherOptions {
  /** Fleets from -f; when undefined, the UnmuteDeployments in `namespace` (or all) are read. */
  fromFile?: { fleets: FleetInput[]; ignored: string[] };
  /** Namespace of the fleets to read from the cluster; undefined = all namespaces. */
  namespace: string | undefined;
  /** Where the operator is installed; undefined = look in every namespace. */
  operatorNamespace: string | undefined;
  now: number;
}

const OPTIONAL_KINDS = [
  KINDS.unmuteDeployment,
  KINDS.serviceMonitor,
  KINDS.podMonitor,
  KINDS.prometheusRule,
  KINDS.prometheus,
  KINDS.httpRoute,
  KINDS.gateway,
  KINDS.grafanaDashboard,
  KINDS.ingressClass,
  KINDS.endpointSlice,
];

const notGathered = <T>(): Fact<T> => factError('not read: the API server did not answer');

export async function gatherFacts(client: KubeClient, o: GatherOptions): Promise<Facts> {
  const server = await attempt(() => client.serverVersion());
  const base: Facts = {
    now: o.now,
    server,
    served: {},
    httpRouteTimeouts: undefined,
    controllerManagerGates: notGathered(),
    crd: notGathered(),
    binaryCrdSchemaHash: binaryCrdSchemaHash(),
    operators: notGathered(),
    access: undefined,
    nodes: notGathered(),
    pods: notGathered(),
    prometheuses: undefined,
    grafanaSidecars: notGathered(),
    ingressClasses: undefined,
    namespaces: {},
    secrets: {},
    persistentVolumeClaims: {},
    gateways: {},
    gatewayClasses: {},
    fleets: o.fromFile?.fleets ?? [],
    canApply: {},
    ignoredDocuments: o.fromFile?.ignored ?? [],
    fleetScope: { fromFile: o.fromFile !== undefined, namespace: o.namespace ?? '' },
  };
  if (!server.ok) return base;

  const served: Record<string, boolean> = {};
  for (const ref of OPTIONAL_KINDS) served[servedKey(ref)] = await client.isServed(ref.apiVersion, ref.kind).catch(() => false);
  const facts: Facts = { ...base, served };
  // What the operator itself decides at start: whether its HTTPRoutes may carry timeouts.
  if (served[servedKey(KINDS.httpRoute)]) facts.httpRouteTimeouts = await servedSchemaHasField(client, KINDS.httpRoute, HTTP_ROUTE_TIMEOUTS_PATH).catch(() => undefined);

  facts.crd = await getMaybe(client, KINDS.crd, `${PLURAL}.${GROUP}`);
  facts.controllerManagerGates = await controllerManagerGates(client);
  facts.operators = await findOperators(client, o.operatorNamespace);
  if (facts.operators.ok && facts.operators.value.length > 0) facts.access = await reviewAccess(client, facts.operators.value[0]!, served);

  if (o.fromFile === undefined && served[servedKey(KINDS.unmuteDeployment)]) {
    const list = await listItems(client, KINDS.unmuteDeployment, o.namespace ? { namespace: o.namespace } : {});
    if (list.ok) facts.fleets = list.value.map(fleetFromCluster);
  }

  facts.nodes = await listItems(client, KINDS.node);
  const hasExtended = facts.nodes.ok && facts.nodes.value.some((n) => Object.keys(nodeInfo(n).allocatable).some(isExtendedResource));
  facts.pods = hasExtended ? await listItems(client, KINDS.pod, { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }) : factOk([]);
  if (served[servedKey(KINDS.prometheus)]) facts.prometheuses = await listItems(client, KINDS.prometheus);
  facts.grafanaSidecars = await grafanaSidecars(client);
  await gatherFleetReferences(client, facts);
  return facts;
}

/** `--feature-gates` of a kube-controller-manager static pod (kubeadm and similar); undefined on managed control planes. */
async function controllerManagerGates(client: KubeClient): Promise<Fact<Record<string, boolean> | undefined>> {
  return attempt(async () => {
    const pods = (await client.list(KINDS.pod, { namespace: 'kube-system', labelSelector: 'component=kube-controller-manager' })).items;
    if (pods.length === 0) return undefined;
    const container = ((pods[0]!['spec'] as { containers?: { command?: string[]; args?: string[] }[] } | undefined)?.containers ?? [])[0];
    const flags = [...(container?.command ?? []), ...(container?.args ?? [])];
    const gates: Record<string, boolean> = {};
    for (const f of flags) {
      if (!f.startsWith('--feature-gates=')) continue;
      for (const pair of f.slice('--feature-gates='.length).split(',')) {
        const [name, value] = pair.split('=');
        if (name) gates[name.trim()] = value?.trim().toLowerCase() === 'true';
      }
    }
    return gates;
  });
}

async function grafanaSidecars(client: KubeClient): Promise<Fact<KubeObject[]>> {
  const deployments = await listItems(client, KINDS.deployment);
  if (!deployments.ok) return deployments;
  const statefulSets = await listItems(client, KINDS.statefulSet);
  return factOk([...deployments.value, ...(statefulSets.ok ? statefulSets.value : [])].filter((w) => sidecarViews(w).length > 0));
}

async function gatherFleetReferences(client: KubeClient, facts: Facts): Promise<void> {
  const namespaces = new Set<string>();
  const secrets = new Set<string>();
  const claims = new Set<string>();
  const gateways = new Set<string>();
  let ingress = false;
  for (const fleet of facts.fleets) {
    namespaces.add(fleet.namespace);
    if (!fleet.parsed.ok) continue;
    const refs = fleetReferences(fleet.parsed.fleet);
    for (const s of refs.secrets) secrets.add(key(fleet.namespace, s.name));
    for (const c of refs.claims) claims.add(key(fleet.namespace, c.name));
    for (const g of refs.gateways) gateways.add(key(g.namespace, g.name));
    if (fleet.parsed.fleet.spec.exposure?.ingress) ingress = true;
  }
  const split = (k: string) => k.split('/') as [string, string];
  for (const ns of namespaces) facts.namespaces[ns] = await getMaybe(client, KINDS.namespace, ns);
  if (facts.fleetScope.fromFile) {
    for (const ns of namespaces) facts.canApply[ns] = await canCreateFleet(client, ns);
  }
  await mapLimit([...secrets], 8, async (k) => {
    const [ns, name] = split(k);
    const secret = await getMaybe(client, KINDS.secret, name, ns);
    // Only the key names are kept: values never leave this function.
    facts.secrets[k] = secret.ok ? factOk(secret.value === undefined ? undefined : { keys: secretKeys(secret.value) }) : secret;
  });
  await mapLimit([...claims], 8, async (k) => {
    const [ns, name] = split(k);
    facts.persistentVolumeClaims[k] = await getMaybe(client, KINDS.pvc, name, ns);
  });
  if (facts.served[servedKey(KINDS.gateway)]) {
    for (const k of gateways) {
      const [ns, name] = split(k);
      const gw = await getMaybe(client, KINDS.gateway, name, ns);
      facts.gateways[k] = gw;
      const className = gw.ok ? (gw.value?.['spec'] as { gatewayClassName?: string } | undefined)?.gatewayClassName : undefined;
      if (className !== undefined && facts.gatewayClasses[className] === undefined) {
        facts.gatewayClasses[className] = await getMaybe(client, KINDS.gatewayClass, className);
      }
    }
  }
  if (ingress && facts.served[servedKey(KINDS.ingressClass)]) facts.ingressClasses = await listItems(client, KINDS.ingressClass);
}

/** SelfSubjectAccessReview: may whoever runs check create an UnmuteDeployment there? */
function canCreateFleet(client: KubeClient, namespace: string): Promise<Fact<boolean>> {
  return attempt(async () => {
    const answer = await client.review({
      ...KINDS.selfSubjectAccessReview,
      spec: { resourceAttributes: { verb: 'create', group: GROUP, resource: PLURAL, namespace } },
    });
    return (answer['status'] as { allowed?: unknown } | undefined)?.allowed === true;
  });
}

function secretKeys(secret: KubeObject): string[] {
  const data = (secret['data'] ?? {}) as Record<string, unknown>;
  const stringData = (secret['stringData'] ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(data), ...Object.keys(stringData)])];
}
