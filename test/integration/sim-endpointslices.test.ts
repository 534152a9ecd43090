// The load generator's --target-service source against a real API server: a Service's
// EndpointSlices listed through the project's client. api mode runs no EndpointSlice controller,
// so the slices are written here the way it would write them.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/runtime/object.ts';
import { ENDPOINT_SLICE, EndpointSliceTargets, sliceLister } from '../../src/sim/loadgen/endpointslices.ts';
import { createNamespace, kubeClient } from '../support/cluster.ts';

const WRITER = { fieldManager: 'endpointslice-controller' };

function slice(namespace: string, name: string, service: string, endpoints: Array<{ ip: string; ready: boolean }>): KubeObject {
  return {
    ...ENDPOINT_SLICE,
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8000, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready } })),
  };
}

describe('EndpointSlice targets of the load generator', () => {
  it("follows the ready endpoints of the Service's slices, and only of that Service", async () => {
    const client = await kubeClient();
    const namespace = await createNamespace('sim-slices');
    await client.apply(slice(namespace, 'backend-a', 'backend', [{ ip: '10.250.0.1', ready: true }, { ip: '10.250.0.2', ready: false }]), WRITER);
    await client.apply(slice(namespace, 'backend-b', 'backend', [{ ip: '10.250.1.1', ready: true }]), WRITER);
    await client.apply(slice(namespace, 'frontend-a', 'frontend', [{ ip: '10.250.2.1', ready: true }]), WRITER);

    const targets = await new EndpointSliceTargets({ namespace, service: 'backend', listSlices: sliceLister(client), refreshMs: 60_000 }).start();
    try {
      expect(targets.targets()).toEqual(['http://10.250.0.1:8000', 'http://10.250.1.1:8000']);
      // The operator drains 10.250.0.1: its endpoint turns not ready.
      await client.apply(slice(namespace, 'backend-a', 'backend', [{ ip: '10.250.0.1', ready: false }, { ip: '10.250.0.2', ready: true }]), WRITER);
      await targets.refresh();
      expect(targets.targets()).toEqual(['http://10.250.0.2:8000', 'http://10.250.1.1:8000']);
    } finally {
      targets.close();
    }
  });
});
