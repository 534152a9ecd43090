// Reading where the API server is and how to authenticate, without client-node for the common cases.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClusterAccess } from '../../../src/runtime/cluster-access.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cluster-access-'));
  const file = join(dir, 'kubeconfig');
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'here',
    clusters: [
      { name: 'other', cluster: { server: 'https://elsewhere:1' } },
      { name: 'local', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA'), ...cluster } },
    ],
    users: [{ name: 'admin', user }],
    contexts: [{ name: 'here', context: { cluster: 'local', user: 'admin' } }],
  };
  writeFileSync(file, JSON.stringify(doc)); // JSON is YAML
  return file;
}

describe('cluster access', () => {
  it('reads a client certificate kubeconfig: server, CA, certificate and key, no auth header', async () => {
    const access = await loadClusterAccess(kubeconfig({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }));
    expect(access.server.href).toBe('https://127.0.0.1:6443/');
    expect(access.tls).toEqual({ ca: Buffer.from('CA'), cert: Buffer.from('CERT'), key: Buffer.from('KEY') });
    expect(await access.authHeaders()).toEqual({});
  });

  it('sends a bearer token, from the kubeconfig or from a token file relative to it', async () => {
    expect(await (await loadClusterAccess(kubeconfig({ token: 't0k3n' }))).authHeaders()).toEqual({ authorization: 'Bearer t0k3n' });
    const file = kubeconfig({ tokenFile: 'token' });
    writeFileSync(join(file, '..', 'token'), 'from-file\n');
    expect(await (await loadClusterAccess(file)).authHeaders()).toEqual({ authorization: 'Bearer from-file' });
  });

  it('sends basic auth and honours insecure-skip-tls-verify and tls-server-name', async () => {
    const access = await loadClusterAccess(kubeconfig({ username: 'u', password: 'p' }, { 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes' }));
    expect(await access.authHeaders()).toEqual({ authorization: `Basic ${b64('u:p')}` });
    expect(access.tls).toMatchObject({ rejectUnauthorized: false, servername: 'kubernetes' });
  });

  it('leaves an exec plugin to client-node', async () => {
    const credential = { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-exec' } };
    const access = await loadClusterAccess(kubeconfig({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'echo', args: [JSON.stringify(credential)], interactiveMode: 'Never' } }));
    expect(access.server.href).toBe('https://127.0.0.1:6443/');
    expect(access.tls.ca?.toString()).toBe('CA');
    expect(await access.authHeaders()).toEqual({ authorization: 'Bearer from-exec' });
  });
});
