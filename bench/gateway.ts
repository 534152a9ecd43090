// bench:fleet --gateway: the operator side's callers reach the backends the way browsers reach
// Unmute, through a gateway: Traefik (scripts/cluster/traefik.ts) serving a Gateway, and the
// HTTPRoute the operator renders for the fleet (spec.exposure.gateway; /api with the prefix
// replaced). Traefik follows the backend Service's EndpointSlices, so load-aware routing reaches
// the callers through it, with its own delay (it applies changes at most every 2 s by default).
import { clusterRef } from '../scripts/cluster/addons.ts';
import type { Cluster } from '../scripts/cluster/harness.ts';
import { startTraefik, type Traefik } from '../scripts/cluster/traefik.ts';

export interface FleetGateway {
  traefik: Traefik;
  /** Where the callers dial: the gateway's /api. */
  targetUrl: string;
  /** The UnmuteDeployment with its exposure through the Gateway. */
  expose<T extends { spec: Record<string, unknown> }>(cr: T): T;
  /** Waits until the route is accepted and Traefik balances over at least `servers` backends. */
  ready(namespace: string, name: string, service: string, servers: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFleetGateway(cluster: Cluster, log: (m: string) => void): Promise<FleetGateway> {
  const traefik = await startTraefik(clusterRef(cluster), { log });
  return {
    traefik,
    targetUrl: `${traefik.url}/api`,
    expose: (cr) => ({ ...cr, spec: { ...cr.spec, exposure: { gateway: { parentRefs: [{ name: traefik.gateway.name, namespace: traefik.gateway.namespace }] } } } }),
    async ready(namespace, name, service, servers, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      await traefik.waitForRoute(namespace, name, timeoutMs);
      for (;;) {
        const have = await traefik.servers(namespace, service).catch(() => []);
        if (have.length >= servers) return;
        if (Date.now() > deadline) throw new Error(`Traefik balances over ${have.length} backends of ${namespace}/${service} after ${timeoutMs} ms, ${servers} expected`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    stop: () => traefik.stop(),
  };
}
