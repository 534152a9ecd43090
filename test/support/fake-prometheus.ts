// A stand-in for Prometheus' instant-query API, run as a process inside a full cluster's network
// namespace: every /api/v1/query answers one sample whose value is read from a file at that moment
// (0 when the file is missing), so a test steers what KEDA's Prometheus scaler sees by writing it.
// Used only to prove the KEDA -> aggregation layer -> HPA path; the monitoring pipeline test runs
// the real Prometheus.
//
// Usage: node test/support/fake-prometheus.ts <ip>:<port> <value-file>
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { z } from 'zod';

const [listen, valueFile] = z.tuple([z.string().regex(/^[\d.]+:\d+$/), z.string().min(1)]).parse(process.argv.slice(2));
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
let queries = 0;

function value(): string {
  try {
    const v = readFileSync(valueFile, 'utf8').trim();
    return Number.isFinite(Number(v)) ? v : '0';
  } catch {
    return '0';
  }
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname !== '/api/v1/query') {
    res.writeHead(404).end();
    return;
  }
  queries++;
  const body = { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, value()] }] } };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (queries === 1) process.stdout.write(`fake-prometheus: first query ${url.searchParams.get('query') ?? ''}\n`);
});
server.listen(port, host, () => process.stdout.write(`fake-prometheus listening on ${host}:${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
