// The simulated fleet of the fault suite, as a process run inside the cluster's network namespace:
// what `unmute-sim fleet` runs (pod runner, clients through the backend Service's ready endpoints,
// the control socket), plus faults of the backends' /metrics endpoint that leave their
// conversations alone, switched through a second unix socket (`<control socket>.faults`):
//
//   POST /metrics-fault {pods?: string[], fault: MetricsFault | null}   (all pods when omitted)
//   GET  /metrics-fault                                                 {faults, served}
//
// MetricsFault kinds:
//   down    the connection is reset without an answer (the metrics endpoint is gone, the
//           websockets on the same port are not)
//   slow    the answer comes after delayMs (then the real exposition)
//   poison  the real exposition with its `worker_active_sessions` sample replaced by `lines`
//   huge    the real exposition followed by valid padding samples up to `bytes` in all, streamed
//           in 64 KiB chunks that are written only as fast as the reader takes them
//
// The simulator itself has no such faults: the sim-worker's HTTP server is wrapped here, in test
// support, by replacing its `request` listener (the one place that serves /metrics).
//
//   node test/support/fault-fleet.ts --namespace NS --selector SEL --service SVC --control-socket PATH
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { createLogger } from '../../src/observability/logger.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { FleetControl } from '../../src/sim/fleet/control.ts';
import { startPodRunner } from '../../src/sim/fleet/pod-runner.ts';
import { CHEAP_SESSION, CHEAP_WORKER, ServiceEndpoints } from '../../src/sim/fleet/scenario.ts';
import { SimWorker } from '../../src/sim/worker/server.ts';

export const MetricsFaultSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('down') }),
  z.object({ kind: z.literal('slow'), delayMs: z.int().min(1).max(600_000) }),
  z.object({ kind: z.literal('poison'), lines: z.array(z.string()).min(1).max(10) }),
  z.object({ kind: z.literal('huge'), bytes: z.int().min(1).max(1024 * 1024 * 1024) }),
]);
export type MetricsFault = z.infer<typeof MetricsFaultSchema>;

const FaultBody = z.object({ pods: z.array(z.string()).optional(), fault: MetricsFaultSchema.nullable() });

const SESSIONS_LINE = /^worker_active_sessions(?:\{[^}]*\})? .*$/m;
/** About 64 KiB of whole, valid sample lines of a metric the operator does not read. */
const CHUNK = (() => {
  const lines: string[] = [];
  for (let i = 0, size = 0; size < 64 * 1024; i++) {
    const line = `worker_fault_padding{line="${String(i).padStart(6, '0')}"} 1.0\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join(''));
})();

/** Faults per pod name; '*' for every pod. */
class MetricsFaults {
  readonly #byPod = new Map<string, MetricsFault>();
  /** /metrics answers served under a fault, by kind. */
  readonly served: Record<string, number> = {};

  set(pods: string[] | undefined, fault: MetricsFault | null): void {
    if (pods === undefined) this.#byPod.clear();
    for (const p of pods ?? ['*']) {
      if (fault === null) this.#byPod.delete(p);
      else this.#byPod.set(p, fault);
    }
  }

  of(pod: string): MetricsFault | undefined {
    return this.#byPod.get(pod) ?? this.#byPod.get('*');
  }

  state() {
    return { faults: Object.fromEntries(this.#byPod), served: { ...this.served } };
  }
}

const intercepted = new WeakSet<SimWorker>();

/** Routes /metrics of one worker through the fault table; everything else as before. */
function interceptMetrics(pod: string, worker: SimWorker, faults: MetricsFaults): void {
  if (intercepted.has(worker)) return;
  intercepted.add(worker);
  // `http` is private to SimWorker; test support reaches in rather than give the simulator a hook.
  const server = (worker as unknown as { http: Server }).http;
  const original = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const fault = (req.url ?? '').split('?')[0] === '/metrics' ? faults.of(pod) : undefined;
    if (fault === undefined) {
      for (const l of original) l.call(server, req, res);
      return;
    }
    faults.served[fault.kind] = (faults.served[fault.kind] ?? 0) + 1;
    void serveFault(fault, worker, req, res, () => {
      for (const l of original) l.call(server, req, res);
    }).catch(() => res.destroy());
  });
}

async function serveFault(fault: MetricsFault, worker: SimWorker, req: IncomingMessage, res: ServerResponse, normal: () => void): Promise<void> {
  switch (fault.kind) {
    case 'down':
      req.socket.destroy();
      return;
    case 'slow': {
      const timer = setTimeout(normal, fault.delayMs);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    case 'poison': {
      const text = await worker.metrics.exposition();
      const body = text.replace(SESSIONS_LINE, fault.lines.join('\n'));
      res.writeHead(200, { 'content-type': worker.metrics.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    case 'huge': {
      const head = Buffer.from(await worker.metrics.exposition());
      res.writeHead(200, { 'content-type': worker.metrics.contentType, 'content-length': Math.max(fault.bytes, head.length) });
      let left = fault.bytes - head.length;
      let closed = false;
      res.once('close', () => (closed = true));
      const pump = (): void => {
        while (left > 0 && !closed) {
          const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= piece.length;
          if (left === 0) {
            res.end(piece);
            return;
          }
          if (!res.write(piece)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      if (left <= 0) res.end(head);
      else if (res.write(head)) pump();
      else res.once('drain', pump);
      return;
    }
  }
}

/** Serves the fault table on a unix socket. */
async function serveFaultControl(socketPath: string, faults: MetricsFaults): Promise<Server> {
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.url !== '/metrics-fault') return send(404, { error: 'not found' });
    if (req.method === 'GET') return send(200, faults.state());
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const parsed = FaultBody.safeParse(JSON.parse(text === '' ? '{}' : text));
      if (!parsed.success) return send(400, { error: z.prettifyError(parsed.error) });
      faults.set(parsed.data.pods, parsed.data.fault);
      send(200, faults.state());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return server;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      namespace: { type: 'string' },
      selector: { type: 'string' },
      service: { type: 'string' },
      'control-socket': { type: 'string' },
      duration: { type: 'string', default: '1800' },
    },
    strict: true,
  });
  const f = z
    .object({ namespace: z.string().min(1), selector: z.string().min(1), service: z.string().min(1), 'control-socket': z.string().min(1), duration: z.coerce.number().int().positive() })
    .parse(values);
  const logger = createLogger({ level: 'info', base: { component: 'fault-fleet' } });
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const client = await KubeClient.fromKubeConfig(kc);
  const faults = new MetricsFaults();
  let runner: Awaited<ReturnType<typeof startPodRunner>> | undefined;
  runner = await startPodRunner({
    client,
    namespace: f.namespace,
    labelSelector: f.selector,
    worker: CHEAP_WORKER,
    logger,
    onEvent: (e) => {
      logger.info(e, `pod ${e.type}`);
      if (e.type !== 'started') return;
      const w = runner?.worker(e.pod);
      if (w instanceof SimWorker) interceptMetrics(e.pod, w, faults);
    },
  });
  // Workers started during the first list, before `runner` was assigned.
  for (const w of runner.workers()) {
    const worker = runner.worker(w.pod);
    if (worker instanceof SimWorker) interceptMetrics(w.pod, worker, faults);
  }
  const endpoints = await new ServiceEndpoints(client, f.namespace, f.service, { strategy: 'least-connections' }).start();
  const control = await new FleetControl({ socketPath: f['control-socket'], runner, picker: endpoints.pool, session: CHEAP_SESSION }).listen();
  const faultServer = await serveFaultControl(`${f['control-socket']}.faults`, faults);
  logger.info({ namespace: f.namespace, selector: f.selector, service: f.service }, 'sim-fleet ready');

  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, f.duration * 1000);
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await control.close();
  faultServer.close();
  rmSync(`${f['control-socket']}.faults`, { force: true });
  endpoints.stop();
  await runner.stop();
  logger.info(runner.totals, 'sim-fleet stopped');
  await client.close();
}

if (import.meta.main) await main();
