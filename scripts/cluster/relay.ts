// One half of the relay that makes a full-mode cluster's apiserver reachable from the host.
//
//   host:   tcp-to-unix  listens on 127.0.0.1:<free port>, forwards each connection to <socket>
//   netns:  unix-to-tcp  listens on <socket>, forwards each connection to 127.0.0.1:<port> there
//                        (or to <host>:<port>, e.g. a Prometheus on an address of the pod range)
//
// A path-based unix socket is a file, so both network namespaces can reach it; TLS passes through
// untouched (the apiserver's certificate has 127.0.0.1 in its SANs, valid on both sides).
//
// Usage: node relay.ts tcp-to-unix <socket> <port-file>
//        node relay.ts unix-to-tcp <socket> [<host>:]<port>
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { z } from 'zod';

const Args = z.union([
  z.tuple([z.literal('tcp-to-unix'), z.string().min(1), z.string().min(1)]),
  z.tuple([
    z.literal('unix-to-tcp'),
    z.string().min(1),
    z
      .string()
      .regex(/^((\d{1,3}\.){3}\d{1,3}:)?\d{1,5}$/, 'expected <port> or <IPv4>:<port>')
      .transform((t) => {
        const i = t.lastIndexOf(':');
        return { host: i === -1 ? '127.0.0.1' : t.slice(0, i), port: Number(t.slice(i + 1)) };
      })
      .refine((t) => t.port >= 1 && t.port <= 65535, 'port out of range'),
  ]),
]);

function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close).on('close', close);
  b.on('error', close).on('close', close);
}

function main(): void {
  const parsed = Args.safeParse(process.argv.slice(2));
  if (!parsed.success) {
    console.error(`usage: relay.ts tcp-to-unix <socket> <port-file> | unix-to-tcp <socket> [<host>:]<port>\n${z.prettifyError(parsed.error)}`);
    process.exit(2);
  }
  const args = parsed.data;
  if (args[0] === 'tcp-to-unix') {
    const [, socketPath, portFile] = args;
    const server = createServer({ allowHalfOpen: true }, (client) => splice(client, connect({ path: socketPath, allowHalfOpen: true })));
    server.on('error', (e) => {
      console.error(`relay: ${e.message}`);
      process.exit(1);
    });
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') throw new Error('relay: no TCP address');
      // Written atomically: the harness polls for the file and reads it once.
      writeFileSync(`${portFile}.tmp`, String(addr.port));
      renameSync(`${portFile}.tmp`, portFile);
    });
  } else {
    const [, socketPath, { host, port }] = args;
    rmSync(socketPath, { force: true });
    const server = createServer({ allowHalfOpen: true }, (client) => splice(client, connect({ host, port, allowHalfOpen: true })));
    server.on('error', (e) => {
      console.error(`relay: ${e.message}`);
      process.exit(1);
    });
    server.listen(socketPath);
  }
}

main();
