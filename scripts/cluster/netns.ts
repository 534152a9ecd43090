// The cluster's private network namespace. Only loopback exists in it, and the whole pod range
// is a local route on that loopback: any pod IP can be bound there and nothing can leave.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { z } from 'zod';
import { POD_CIDR } from './config.ts';

const run = promisify(execFile);

async function ip(args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

const RoutesSchema = z.array(z.object({ type: z.string().optional(), dst: z.string(), dev: z.string().optional() }).loose());

const inPodRange = (dst: string): boolean => dst === POD_CIDR || dst.startsWith('10.250.');

/** Refuses to run if the host already routes the pod range: it must exist only inside our netns. */
export async function assertHostHasNoPodRoute(): Promise<void> {
  const routes = RoutesSchema.parse(JSON.parse((await ip(['-j', 'route', 'show', 'table', 'all'])) || '[]'));
  const bad = routes.filter((r) => inPodRange(r.dst));
  if (bad.length > 0) {
    throw new Error(`the host routes ${bad.map((r) => r.dst).join(', ')}; ${POD_CIDR} must exist only inside the cluster's netns. Remove that route first.`);
  }
}

export async function createNetns(name: string): Promise<void> {
  try {
    await ip(['netns', 'add', name]);
  } catch (e) {
    const hint = process.getuid?.() === 0 ? '' : ' (full mode must run as root: it creates a network namespace)';
    throw new Error(`${(e as Error).message}${hint}`, { cause: e });
  }
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  await ip(['-n', name, 'route', 'add', 'local', POD_CIDR, 'dev', 'lo']);
  await verifyNetns(name);
}

/** Checked before anything starts in the namespace: loopback up and the local pod route present. */
export async function verifyNetns(name: string): Promise<void> {
  const routes = RoutesSchema.parse(JSON.parse(await ip(['-n', name, '-j', 'route', 'show', 'table', 'local'])));
  const ok = routes.some((r) => r.type === 'local' && r.dst === POD_CIDR && r.dev === 'lo');
  if (!ok) throw new Error(`netns ${name}: no 'local ${POD_CIDR} dev lo' route in its local table`);
  const got = await ip(['-n', name, 'route', 'get', '10.250.0.1']);
  if (!/^local 10\.250\.0\.1 dev lo/.test(got.trim())) throw new Error(`netns ${name}: 10.250.0.1 does not resolve to local: ${got.trim()}`);
}

export async function deleteNetns(name: string): Promise<void> {
  if (!existsSync(`/run/netns/${name}`)) return;
  await ip(['netns', 'del', name]);
}

/** Names of the network namespaces whose name starts with prefix. */
export async function listNetns(prefix: string): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}
