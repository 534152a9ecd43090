// Watches the process that owns a cluster and stops the cluster when that process is gone,
// however it ended (normal exit, uncaught error, SIGINT/SIGTERM, even SIGKILL).
// It exits quietly when the cluster is stopped by someone else or detached (cluster:up).
//
// Usage: node guardian.ts <cluster-name> <owner-pid>
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ClusterNameSchema, stateDirOf } from './config.ts';
import { stopCluster } from './harness.ts';
import { isAlive } from './procs.ts';

const Args = z.tuple([ClusterNameSchema, z.coerce.number().int().min(2)]);

async function main(): Promise<void> {
  const [name, owner] = Args.parse(process.argv.slice(2));
  const stateDir = stateDirOf(name);
  for (;;) {
    if (existsSync(join(stateDir, 'detached')) || !existsSync(stateDir)) return;
    if (!isAlive(owner)) break;
    await sleep(200);
  }
  console.error(`guardian: owner ${owner} of cluster ${name} is gone, stopping the cluster`);
  await stopCluster(name, { excludePids: [process.pid] });
}

// Ignore the terminal's Ctrl-C: the owner gets it too, and then this process has work to do.
process.on('SIGINT', () => {});
await main();
