// serverVersion() and review(): the two calls `unmute-operator check` needs beyond object CRUD.
import { describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import type { KubeTransport, TransportRequest, TransportResponse, TransportStream } from '../../../src/runtime/kube-transport.ts';

class FixedTransport implements KubeTransport {
  readonly host = '127.0.0.1:6443';
  readonly requests: TransportRequest[] = [];
  readonly answer: (req: TransportRequest) => TransportResponse;
  constructor(answer: (req: TransportRequest) => TransportResponse) {
    this.answer = answer;
  }
  async request(req: TransportRequest): Promise<TransportResponse> {
    this.requests.push(req);
    return this.answer(req);
  }
  async stream(): Promise<TransportStream> {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

const authzDiscovery = {
  resources: [
    { name: 'subjectaccessreviews', kind: 'SubjectAccessReview', namespaced: false },
    { name: 'localsubjectaccessreviews', kind: 'LocalSubjectAccessReview', namespaced: true },
  ],
};

describe('KubeClient.serverVersion', () => {
  it('reads /version', async () => {
    const t = new FixedTransport(() => ({ status: 200, body: JSON.stringify({ major: '1', minor: '31+', gitVersion: 'v1.31.2-gke.1' }) }));
    const v = await new KubeClient(t).serverVersion();
    expect(v).toMatchObject({ major: '1', minor: '31+', gitVersion: 'v1.31.2-gke.1' });
    expect(t.requests[0]).toMatchObject({ method: 'GET', path: '/version' });
  });
});

describe('KubeClient.review', () => {
  it('posts a nameless review to its collection and returns the answer', async () => {
    const t = new FixedTransport((req) => {
      if (req.method === 'GET') return { status: 200, body: JSON.stringify(authzDiscovery) };
      const sent = JSON.parse(req.body ?? '{}') as Record<string, unknown>;
      return { status: 201, body: JSON.stringify({ ...sent, metadata: { creationTimestamp: null }, status: { allowed: true } }) };
    });
    const client = new KubeClient(t);
    const answer = await client.review({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'system:serviceaccount:x:y', resourceAttributes: { verb: 'get', resource: 'pods' } },
    });
    expect(answer['status']).toEqual({ allowed: true });
    expect(t.requests.at(-1)).toMatchObject({ method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews' });
    const local = await client.review({ apiVersion: 'authorization.k8s.io/v1', kind: 'LocalSubjectAccessReview', metadata: { namespace: 'ns1' }, spec: {} });
    expect(local['status']).toEqual({ allowed: true });
    expect(t.requests.at(-1)?.path).toBe('/apis/authorization.k8s.io/v1/namespaces/ns1/localsubjectaccessreviews');
  });

  it('turns a refusal into a KubeApiError', async () => {
    const t = new FixedTransport((req) =>
      req.method === 'GET'
        ? { status: 200, body: JSON.stringify(authzDiscovery) }
        : { status: 403, body: JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'no' }) },
    );
    await expect(new KubeClient(t).review({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: {} })).rejects.toMatchObject({ code: 403 });
  });
});
