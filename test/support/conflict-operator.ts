// The operator's controller (test/support/operator.ts startInProcessController: the same wiring as
// `unmute-operator run`, without leader election or HTTP servers) on a transport that can answer
// every write with 409 Conflict. Run as a process inside the cluster's network namespace (the
// controller reads the backends' /metrics on pod IPs), switched through a unix socket:
//
//   POST /conflicts {on: boolean}   every PATCH/PUT/POST/DELETE answered 409 while on; reads and watches pass
//   GET  /state                     {on, conflicts, writesPassed, reconciles}
//
//   node test/support/conflict-operator.ts --namespace NS --control-socket PATH
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import type { KubeTransport, TransportRequest, TransportResponse, TransportStream } from '../../src/runtime/kube-transport.ts';
import { startInProcessController } from './operator.ts';

/** A Status as the API server sends for an optimistic-concurrency conflict. */
export function conflictStatus(req: TransportRequest): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `Operation cannot be fulfilled on ${req.path}: the object has been modified; please apply your changes to the latest version and try again`,
    reason: 'Conflict',
    details: {},
    code: 409,
  });
}

/** Passes every request to `inner`, except writes while `on`: those get a 409 Conflict Status. */
export class ConflictTransport implements KubeTransport {
  readonly host: string;
  readonly #inner: KubeTransport;
  on = false;
  conflicts = 0;
  writesPassed = 0;

  constructor(inner: KubeTransport) {
    this.#inner = inner;
    this.host = inner.host;
  }

  #conflict(req: TransportRequest): string | undefined {
    if (req.method === 'GET') return undefined;
    if (!this.on) {
      this.writesPassed++;
      return undefined;
    }
    this.conflicts++;
    return conflictStatus(req);
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const body = this.#conflict(req);
    return body === undefined ? this.#inner.request(req) : { status: 409, body, warnings: [] };
  }

  async stream(req: TransportRequest): Promise<TransportStream> {
    const body = this.#conflict(req);
    if (body === undefined) return this.#inner.stream(req);
    return { status: 409, text: async () => body, chunks: (async function* () {})() };
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { namespace: { type: 'string' }, 'control-socket': { type: 'string' } }, strict: true });
  const f = z.object({ namespace: z.string().min(1), 'control-socket': z.string().min(1) }).parse(values);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  let transport: ConflictTransport | undefined;
  const controller = await startInProcessController({
    kubeConfig,
    namespace: f.namespace,
    logLevel: 'info',
    wrapTransport: (inner) => (transport = new ConflictTransport(inner)),
  });
  const t = transport!;
  const state = () => ({ on: t.on, conflicts: t.conflicts, writesPassed: t.writesPassed, reconciles: controller.reconciles() });
  rmSync(f['control-socket'], { force: true });
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'GET' && req.url === '/state') return send(200, state());
    if (req.method !== 'POST' || req.url !== '/conflicts') return send(404, { error: 'not found' });
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const b = z.object({ on: z.boolean() }).safeParse(JSON.parse(text === '' ? '{}' : text));
      if (!b.success) return send(400, { error: z.prettifyError(b.error) });
      t.on = b.data.on;
      process.stderr.write(`${JSON.stringify({ msg: `conflicts ${t.on ? 'on' : 'off'}`, ...state() })}\n`);
      send(200, state());
    });
  });
  await new Promise<void>((resolve) => server.listen(f['control-socket'], () => resolve()));
  process.stderr.write(`${JSON.stringify({ msg: 'conflict operator started', namespace: f.namespace })}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  server.close();
  rmSync(f['control-socket'], { force: true });
  await controller.stop();
}

if (import.meta.main) await main();
