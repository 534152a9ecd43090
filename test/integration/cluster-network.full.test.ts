// Pod IPs are real addresses inside the cluster's network namespace: the EndpointSlice controller
// publishes them and a process can serve on one of them there, while the host never routes them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { clusterInfo, createNamespace, execInNetns, kubeClient, spawnInNetns, stopNetnsProcesses, waitFor } from '../support/cluster.ts';

const IMAGE = 'registry.invalid/unmute-fake:0';
const PORT = 7000;
const POD_IP = /^10\.250\.\d{1,3}\.\d{1,3}$/;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const ENDPOINT_SLICE = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' } as const;

interface Pod extends KubeObject {
  status?: { podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

interface EndpointSlice extends KubeObject {
  ports?: Array<{ port?: number }>;
  endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }>;
}

// A one-line TCP server and client, run with this same node binary inside the netns.
const SERVER = `const [ip, port] = process.argv.slice(1);
require('node:net').createServer((s) => s.end('hello from ' + ip + '\\n'))
  .listen(Number(port), ip, () => console.log('listening on ' + ip + ':' + port));`;
const CLIENT = `const [ip, port] = process.argv.slice(1);
const s = require('node:net').connect(Number(port), ip);
s.setTimeout(5000, () => { console.error('timeout'); process.exit(3); });
s.on('data', (d) => process.stdout.write(d)).on('error', (e) => { console.error(e.message); process.exit(2); });`;

describe('pod network in the cluster network namespace', () => {
  let client: KubeClient;
  let namespace = '';
  let podIPs: string[] = [];

  beforeAll(async () => {
    client = await kubeClient();
    namespace = await createNamespace('net');
    await client.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'echo', namespace },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'echo' } },
        template: {
          metadata: { labels: { app: 'echo' } },
          spec: { containers: [{ name: 'echo', image: IMAGE, ports: [{ name: 'tcp', containerPort: PORT }] }] },
        },
      },
    });
    await client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace }, spec: { selector: { app: 'echo' }, ports: [{ name: 'tcp', port: PORT, targetPort: 'tcp' }] } });
    podIPs = await waitFor('3 Ready echo pods with IPs', async () => {
      const pods = (await client.list<Pod>(POD, { namespace, labelSelector: 'app=echo' })).items;
      const ready = pods.filter((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 3 ? ready.map((p) => p.status!.podIP!).sort() : undefined;
    }, { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await stopNetnsProcesses();
    await client.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace);
  });

  it('gives every pod a distinct IP from 10.250.0.0/16', () => {
    expect(new Set(podIPs).size).toBe(3);
    for (const ip of podIPs) expect(ip).toMatch(POD_IP);
  });

  it("publishes the pods' IPs in the Service's EndpointSlice", async () => {
    const addresses = await waitFor('an EndpointSlice listing all 3 pod IPs', async () => {
      const slices = await client.list<EndpointSlice>(ENDPOINT_SLICE, { namespace, labelSelector: 'kubernetes.io/service-name=echo' });
      const ready = slices.items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).flatMap((e) => e.addresses));
      return ready.length === 3 ? ready.sort() : undefined;
    }, { timeoutMs: 60_000 });
    expect(addresses).toEqual(podIPs);
    const slices = await client.list<EndpointSlice>(ENDPOINT_SLICE, { namespace, labelSelector: 'kubernetes.io/service-name=echo' });
    expect(slices.items[0]?.ports?.[0]?.port).toBe(PORT);
  });

  it('lets a process listening on a pod IP answer another process in the netns', async () => {
    const ip = podIPs[0]!;
    const server = spawnInNetns(process.execPath, ['-e', SERVER, ip, String(PORT)]);
    await server.waitForOutput(/listening on/);
    const client = await execInNetns(process.execPath, ['-e', CLIENT, ip, String(PORT)], { timeoutMs: 10_000 });
    expect(client).toEqual({ code: 0, output: `hello from ${ip}\n` });
    await server.stop();
  });

  it('keeps the pod range off the host: no route for 10.250.0.0/16 outside the netns', async () => {
    const { netns } = clusterInfo();
    const run = promisify(execFile);
    const host = (await run('ip', ['route', 'show', 'table', 'all'])).stdout;
    expect(host).not.toMatch(/(^|\s)10\.250\./m);
    const inside = (await run('ip', ['-n', netns!, 'route', 'show', 'table', 'local'])).stdout;
    expect(inside).toMatch(/^local 10\.250\.0\.0\/16 dev lo/m);
  });
});
