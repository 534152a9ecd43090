import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, createRuntimeMetrics } from '../../../src/observability/metrics.ts';
import { KubeApiError, isConflict, isInvalid, isNotFound, isResourceExpired, wrapError } from '../../../src/runtime/errors.ts';
import { FlowControl } from '../../../src/runtime/flow-control.ts';
import { KubeClient, parseWatchLine, requestDeadline, warningText } from '../../../src/runtime/kube-client.ts';
import type { TransportResponse } from '../../../src/runtime/kube-transport.ts';
import { FakeClock } from './support/fake-clock.ts';
import { json, RecordingTransport, type Handler } from './support/recording-transport.ts';

const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'backend', namespace: 'voice', resourceVersion: '7' }, spec: { replicas: 1 } };
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' };

function aClient(handler: Handler) {
  const transport = new RecordingTransport(handler);
  const metrics = createRuntimeMetrics(createMetricsRegistry());
  const client = new KubeClient(transport, { metrics, clock: new FakeClock() });
  return { transport, client, metrics };
}

describe('kube client', () => {
  it('server-side applies with the apply-patch content type, field manager and force', async () => {
    const { client, transport } = aClient(() => json(200, deployment));
    await client.apply(deployment, { fieldManager: 'unmute-operator' });
    expect(transport.requests[0]).toMatchObject({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/voice/deployments/backend',
      query: { fieldManager: 'unmute-operator', force: true },
      contentType: 'application/apply-patch+yaml',
    });
    expect(JSON.parse(transport.requests[0]?.body ?? '')).toEqual(deployment);
  });

  it('applies status to the status subresource of a custom resource found by discovery', async () => {
    const { client, transport } = aClient((req) =>
      req.path === '/apis/unmute.sh/v1alpha1'
        ? json(200, { resources: [{ name: 'unmutedeployments', kind: 'UnmuteDeployment', namespaced: true }, { name: 'unmutedeployments/status', kind: 'UnmuteDeployment', namespaced: true }] })
        : json(200, { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', metadata: { name: 'fleet', namespace: 'voice' } }),
    );
    const body = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', metadata: { name: 'fleet', namespace: 'voice' }, status: { phase: 'Ready' } };
    await client.apply(body, { fieldManager: 'unmute-operator', subresource: 'status' });
    await client.apply(body, { fieldManager: 'unmute-operator', subresource: 'status' });
    expect(transport.requests.map((r) => r.path)).toEqual([
      '/apis/unmute.sh/v1alpha1',
      '/apis/unmute.sh/v1alpha1/namespaces/voice/unmutedeployments/fleet/status',
      '/apis/unmute.sh/v1alpha1/namespaces/voice/unmutedeployments/fleet/status',
    ]);
  });

  it('tells whether an API group and kind are served, remembering a missing group for a while', async () => {
    const { client, transport } = aClient((req) => (req.path === '/apis/monitoring.coreos.com/v1' ? json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' }) : json(500, {})));
    expect(await client.isServed('monitoring.coreos.com/v1', 'ServiceMonitor')).toBe(false);
    expect(await client.isServed('monitoring.coreos.com/v1')).toBe(false);
    expect(await client.isServed('apps/v1', 'Deployment')).toBe(true);
    expect(transport.requests).toHaveLength(1);
  });

  it('asks discovery again once a "not served" answer is 30 s old (e.g. prometheus-operator installed later)', async () => {
    let served = false;
    const transport = new RecordingTransport(() =>
      served ? json(200, { resources: [{ name: 'servicemonitors', kind: 'ServiceMonitor', namespaced: true }] }) : json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'x' }),
    );
    const clock = new FakeClock();
    const client = new KubeClient(transport, { clock });
    expect(await client.isServed('monitoring.coreos.com/v1', 'ServiceMonitor')).toBe(false);
    served = true;
    await clock.advance(29_000);
    expect(await client.isServed('monitoring.coreos.com/v1', 'ServiceMonitor')).toBe(false);
    await clock.advance(1_000);
    expect(await client.isServed('monitoring.coreos.com/v1', 'ServiceMonitor')).toBe(true);
    expect(transport.requests).toHaveLength(2);
  });

  it('lists with selector and pagination and fills in apiVersion and kind of items', async () => {
    const { client, transport } = aClient(() =>
      json(200, { kind: 'DeploymentList', apiVersion: 'apps/v1', metadata: { resourceVersion: '99', continue: 'abc' }, items: [{ metadata: { name: 'a', namespace: 'voice' } }] }),
    );
    const page = await client.list(DEPLOYMENT, { namespace: 'voice', labelSelector: 'app=unmute', limit: 500 });
    expect(transport.requests[0]).toMatchObject({ path: '/apis/apps/v1/namespaces/voice/deployments', query: { labelSelector: 'app=unmute', limit: 500 } });
    expect(page).toEqual({ items: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'a', namespace: 'voice' } }], resourceVersion: '99', continue: 'abc' });
  });

  it('lists across all namespaces when no namespace is given', async () => {
    const { client, transport } = aClient(() => json(200, { metadata: { resourceVersion: '1' }, items: [] }));
    await client.list({ apiVersion: 'v1', kind: 'Pod' });
    expect(transport.requests[0]?.path).toBe('/api/v1/pods');
  });

  it('turns a Status body into a typed KubeApiError with reason and causes', async () => {
    const { client } = aClient(() =>
      json(422, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'Invalid',
        code: 422,
        message: 'Deployment.apps "backend" is invalid: spec.replicas: Invalid value: -1',
        details: { name: 'backend', group: 'apps', kind: 'Deployment', causes: [{ reason: 'FieldValueInvalid', field: 'spec.replicas', message: 'Invalid value: -1' }] },
      }),
    );
    const err = await client.create(deployment).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 422, reason: 'Invalid', request: 'POST /apis/apps/v1/namespaces/voice/deployments' });
    expect((err as KubeApiError).details?.causes?.[0]?.field).toBe('spec.replicas');
    expect(isInvalid(err)).toBe(true);
  });

  it('recognises conflicts, not-found and expired errors through wrapping causes', async () => {
    const conflict = new KubeApiError({ code: 409, reason: 'Conflict', message: 'modified' });
    const exists = new KubeApiError({ code: 409, reason: 'AlreadyExists', message: 'exists' });
    expect(isConflict(wrapError('update Lease', conflict))).toBe(true);
    expect(isConflict(exists)).toBe(false);
    expect(isNotFound(wrapError('get', new KubeApiError({ code: 404, reason: 'NotFound', message: 'x' })))).toBe(true);
    expect(isResourceExpired(new KubeApiError({ code: 410, reason: 'Expired', message: 'too old' }))).toBe(true);
    expect(KubeApiError.fromResponse(502, '<html>bad gateway</html>')).toMatchObject({ code: 502, reason: '', message: '<html>bad gateway</html>' });
  });

  it('returns undefined from getIfExists on 404', async () => {
    const { client } = aClient(() => json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'deployments.apps "x" not found' }));
    expect(await client.getIfExists(DEPLOYMENT, 'x', 'voice')).toBeUndefined();
  });

  it('counts requests by verb and kind, separating writes from reads', async () => {
    const { client } = aClient(() => json(200, deployment));
    const before = client.requests.snapshot();
    await client.get(DEPLOYMENT, 'backend', 'voice');
    await client.apply(deployment, { fieldManager: 'm' });
    await client.patch(DEPLOYMENT, 'backend', 'voice', { spec: { replicas: 2 } }, 'merge');
    expect(client.requests.writesSince(before)).toBe(2);
    expect(client.requests.writesSince(before, 'ConfigMap')).toBe(0);
    expect(client.requests.count({ writes: false }, before)).toBe(1);
    expect(client.requests.diff(before)).toEqual({ 'get Deployment': 1, 'apply Deployment': 1, 'patch Deployment': 1 });
  });

  it('exports rest_client_requests_total by code, method and host', async () => {
    const { client, metrics } = aClient(() => json(409, { kind: 'Status', code: 409, reason: 'Conflict', message: 'x' }));
    await client.update(deployment).catch(() => undefined);
    const text = await metrics.registry.getSingleMetricAsString('rest_client_requests_total');
    expect(text).toContain('rest_client_requests_total{code="409",method="PUT",host="127.0.0.1:6443"} 1');
  });

  it('GETs a path outside the object model and returns its text; a non-2xx answer is a KubeApiError', async () => {
    let ready = false;
    const { client, transport } = aClient(() => (ready ? { status: 200, body: 'ok' } : { status: 500, body: '[-]etcd failed: reason withheld' }));
    const err = await client.raw('GET', '/readyz').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 500, request: 'GET /readyz' });
    ready = true;
    expect(await client.raw('GET', '/readyz')).toBe('ok');
    expect(transport.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['GET', '/readyz', undefined],
      ['GET', '/readyz', undefined],
    ]);
    expect(client.requests.diff({})).toEqual({ 'get ': 2 });
  });

  it('POSTs a raw JSON body (a TokenRequest) and counts it as a write', async () => {
    const { client, transport } = aClient(() => json(201, { kind: 'TokenRequest', status: { token: 't0k3n' } }));
    const body = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } };
    const answer = await client.raw('POST', '/api/v1/namespaces/voice/serviceaccounts/bot/token', { body });
    expect(JSON.parse(answer)).toMatchObject({ status: { token: 't0k3n' } });
    expect(transport.requests[0]).toMatchObject({ method: 'POST', path: '/api/v1/namespaces/voice/serviceaccounts/bot/token', contentType: 'application/json' });
    expect(JSON.parse(transport.requests[0]?.body ?? '')).toEqual(body);
    expect(client.requests.writesSince({})).toBe(1);
  });

  it('hands every Warning header to onWarning, also when the request is rejected', async () => {
    const forbidden = { kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods "p" is forbidden: violates PodSecurity "restricted:latest"' };
    let answer: TransportResponse = { ...json(201, deployment), warnings: ['299 - "unknown field \\"spec.replica\\""'] };
    const { client } = aClient(() => answer);
    const warnings: string[] = [];
    await client.create(deployment, { onWarning: (w) => warnings.push(w) });
    answer = { ...json(403, forbidden), warnings: ['299 - "would violate PodSecurity"'] };
    await expect(client.apply(deployment, { fieldManager: 'm', onWarning: (w) => warnings.push(w) })).rejects.toMatchObject({ code: 403 });
    expect(warnings).toEqual(['unknown field "spec.replica"', 'would violate PodSecurity']);
  });

  it('takes the text out of a Warning header, keeping a value of another shape whole', () => {
    expect(warningText('299 - "a \\"quoted\\" word, and a comma"')).toBe('a "quoted" word, and a comma');
    expect(warningText('just text')).toBe('just text');
  });

  it('asks for dry-run and strict field validation on create and apply when told', async () => {
    const { client, transport } = aClient(() => json(201, deployment));
    await client.create(deployment, { dryRun: true, fieldValidation: 'Strict', fieldManager: 't' });
    await client.apply(deployment, { fieldManager: 't', dryRun: true, fieldValidation: 'Strict' });
    await client.create(deployment);
    expect(transport.requests.map((r) => r.query)).toEqual([
      { fieldManager: 't', dryRun: 'All', fieldValidation: 'Strict' },
      { fieldManager: 't', dryRun: 'All', fieldValidation: 'Strict', force: true },
      { fieldManager: undefined, dryRun: undefined, fieldValidation: undefined },
    ]);
  });

  it('starts a watch with bookmarks and parses events split across chunks', async () => {
    const lines = [
      { type: 'ADDED', object: deployment },
      { type: 'BOOKMARK', object: { kind: 'Deployment', apiVersion: 'apps/v1', metadata: { resourceVersion: '12' } } },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n');
    const { client, transport } = aClient(() => ({ status: 200, body: `${lines}\n` }));
    const stream = await client.watch(DEPLOYMENT, { namespace: 'voice', resourceVersion: '7', allowWatchBookmarks: true, timeoutSeconds: 321 }, new AbortController().signal);
    const events = [];
    for await (const e of stream) events.push(e);
    expect(transport.requests[0]?.query).toMatchObject({ watch: 'true', resourceVersion: '7', allowWatchBookmarks: true, timeoutSeconds: 321 });
    expect(events.map((e) => [e.type, e.object.metadata.resourceVersion])).toEqual([
      ['ADDED', '7'],
      ['BOOKMARK', '12'],
    ]);
  });

  it('throws a watch ERROR event as KubeApiError (410 Expired means relist)', () => {
    const line = JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version: 1 (5)', reason: 'Expired', code: 410 } });
    expect(() => parseWatchLine(line)).toThrow(KubeApiError);
    try {
      parseWatchLine(line);
    } catch (err) {
      expect(isResourceExpired(err)).toBe(true);
    }
  });

  it('lists and watches metadata only when asked, and files the PartialObjectMetadata under the kind it stands for', async () => {
    const SERVICE = { apiVersion: 'v1', kind: 'Service' };
    const partial = (name: string) => ({ apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: { name, namespace: 'voice', resourceVersion: '5' } });
    const { client, transport } = aClient((req) =>
      req.query?.['watch'] === 'true'
        ? { status: 200, body: JSON.stringify({ type: 'ADDED', object: partial('b') }) + '\n' }
        : json(200, { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadataList', metadata: { resourceVersion: '9' }, items: [partial('a')] }),
    );
    const lw = client.listerWatcher(SERVICE, { namespace: 'voice', metadataOnly: true });
    const page = await lw.list({ limit: 500 }, new AbortController().signal);
    expect(page.items).toEqual([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'voice', resourceVersion: '5' } }]);
    const events = [];
    for await (const e of await lw.watch({ resourceVersion: '9', timeoutSeconds: 60, allowWatchBookmarks: true }, new AbortController().signal)) events.push(e);
    expect(events).toEqual([{ type: 'ADDED', object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'b', namespace: 'voice', resourceVersion: '5' } } }]);
    expect(transport.requests.map((r) => r.accept)).toEqual([
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
      'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
    ]);
    await client.list(SERVICE, { namespace: 'voice' });
    expect(transport.requests.at(-1)?.accept).toBeUndefined();
  });

  it('asks for a metadata-only answer to an apply when told, and files it under the applied kind', async () => {
    const { client, transport } = aClient(() => json(200, { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: { name: 'backend', namespace: 'voice', resourceVersion: '8' } }));
    const answer = await client.apply(deployment, { fieldManager: 'unmute-operator', metadataOnly: true });
    expect(transport.requests[0]?.accept).toBe('application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json');
    expect(answer).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'backend', namespace: 'voice', resourceVersion: '8' } });
  });

  it('sends a request again after the Retry-After of a 429, and gives up the answer as an error after ten', async () => {
    const clock = new FakeClock();
    let refusals = 2;
    const transport = new RecordingTransport(() =>
      refusals-- > 0 ? { ...json(429, { kind: 'Status', code: 429, reason: 'TooManyRequests', message: 'too many requests' }), retryAfterSeconds: 1 } : json(200, deployment),
    );
    const client = new KubeClient(transport, { clock });
    const got = client.get(DEPLOYMENT, 'backend', 'voice');
    await clock.advance(999);
    expect(transport.requests).toHaveLength(1);
    await clock.advance(1);
    expect(transport.requests).toHaveLength(2);
    await clock.advance(1000);
    expect((await got).metadata.name).toBe('backend');
    expect(transport.requests).toHaveLength(3);

    refusals = 100;
    const refused = client.get(DEPLOYMENT, 'backend', 'voice');
    refused.catch(() => undefined);
    await clock.advance(20_000);
    await expect(refused).rejects.toMatchObject({ code: 429 });
    expect(transport.requests).toHaveLength(3 + 11);
  });

  it('holds requests beyond its flow control slots until earlier ones are answered', async () => {
    const clock = new FakeClock();
    const answers: Array<() => void> = [];
    const transport = new RecordingTransport(() => json(200, deployment));
    const request = transport.request.bind(transport);
    transport.request = (req) => new Promise((resolve) => answers.push(() => void request(req).then(resolve)));
    const client = new KubeClient(transport, { clock, flowControl: new FlowControl({ qps: 0, burst: 1, maxInFlight: 2, clock }) });
    const gets = [1, 2, 3].map(() => client.get(DEPLOYMENT, 'backend', 'voice'));
    await clock.advance(0);
    expect(answers).toHaveLength(2);
    answers[0]!();
    await gets[0];
    await clock.advance(0);
    expect(answers).toHaveLength(3);
    answers[1]!();
    answers[2]!();
    await Promise.all(gets);
  });
});

describe('requestDeadline', () => {
  it('aborts with a TimeoutError after its time, and with the reason of a parent that aborts first', async () => {
    const timed = requestDeadline(undefined, 5);
    await new Promise((r) => setTimeout(r, 30));
    expect(timed.signal.aborted).toBe(true);
    expect((timed.signal.reason as DOMException).name).toBe('TimeoutError');

    const parent = new AbortController();
    const child = requestDeadline(parent.signal, 60_000);
    parent.abort(new Error('stopping'));
    expect(child.signal.aborted).toBe(true);
    expect((child.signal.reason as Error).message).toBe('stopping');
    child.dispose();

    const already = new AbortController();
    already.abort(new Error('gone'));
    expect(requestDeadline(already.signal, 60_000).signal.aborted).toBe(true);
  });

  it('lets go of its timer and its parent once disposed: a finished request is never aborted later', async () => {
    const parent = new AbortController();
    const done = requestDeadline(parent.signal, 5);
    done.dispose();
    await new Promise((r) => setTimeout(r, 30));
    parent.abort();
    expect(done.signal.aborted).toBe(false);
  });
});
