// Starting and stopping the cluster's processes so that none outlives the cluster.
//
// Every process gets its own process group (detached) and the env marker UNMUTE_CLUSTER=<name>.
// Its PID is appended to <state>/pids the moment it exists. Stopping kills the groups of every
// recorded PID that still carries the marker, plus any other process found with the marker in
// /proc (covers a PID written too late or a lost state dir); the marker check also protects
// against signalling a recycled PID.
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MARKER_ENV } from './config.ts';

export interface Daemon {
  role: string;
  pid: number;
  logFile: string;
  /** Exit code or signal once the process has ended; undefined while running. */
  exit(): string | undefined;
}

export interface SpawnOptions {
  cluster: string;
  stateDir: string;
  role: string;
  command: string;
  args: string[];
  /** Run inside this network namespace (via `ip netns exec`, which execs: the PID stays the same). */
  netns?: string | undefined;
  env?: Record<string, string>;
}

/** Starts a long-running process in its own process group, output to <state>/logs/<role>.log. */
export function spawnDaemon(o: SpawnOptions): Daemon {
  const logDir = join(o.stateDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${o.role}.log`);
  const fd = openSync(logFile, 'a');
  const [cmd, args] = o.netns ? ['ip', ['netns', 'exec', o.netns, o.command, ...o.args]] : [o.command, o.args];
  let child;
  try {
    child = spawn(cmd, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      // A small, explicit environment: components take everything else from flags.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', ...o.env, [MARKER_ENV]: o.cluster },
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${o.role} (${cmd})`);
  appendFileSync(join(o.stateDir, 'pids'), `${pid} ${o.role}\n`);
  // The command line, so the component can be started again as it was (faults.ts restarts it).
  writeFileSync(commandFile(o.stateDir, o.role), JSON.stringify({ role: o.role, command: o.command, args: o.args, netns: o.netns ?? null, env: o.env ?? {} }));
  let ended: string | undefined;
  child.on('exit', (code, signal) => (ended = signal ?? `exit code ${code}`));
  child.on('error', (e) => (ended = e.message));
  child.unref();
  return { role: o.role, pid, logFile, exit: () => ended };
}

/** Where spawnDaemon records how a role was started. */
export function commandFile(stateDir: string, role: string): string {
  return join(stateDir, 'logs', `${role}.command.json`);
}

export function recordedPids(stateDir: string): Array<{ pid: number; role: string }> {
  const file = join(stateDir, 'pids');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pid, role] = l.split(' ');
      return { pid: Number(pid), role: role ?? '?' };
    })
    .filter((p) => Number.isInteger(p.pid) && p.pid > 1);
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] is the state. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Alive = exists and is not a zombie (a zombie has already stopped running). */
export function isAlive(pid: number): boolean {
  try {
    const state = statFields(pid)[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ: the unit of /proc's times on Linux

/** CPU seconds (user + system) a process has used so far; throws when it does not exist. */
export function cpuSecondsOf(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

function hasMarker(pid: number, cluster: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${MARKER_ENV}=${cluster}`);
  } catch {
    return false;
  }
}

/** Every live process carrying this cluster's marker. */
export function markedProcesses(cluster: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && isAlive(pid) && hasMarker(pid, cluster)) out.push(pid);
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  // The group first (covers any children), then the process itself in case it left its group.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig);
    } catch {
      // already gone
    }
  }
}

async function waitAllDead(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    alive = alive.filter(isAlive);
  }
  return alive;
}

/**
 * Terminates every process of the cluster: SIGTERM, a short grace, then SIGKILL.
 * Nothing is kept (etcd data is thrown away), so the grace is short. Returns survivors' PIDs.
 */
export async function killClusterProcesses(cluster: string, stateDir: string, exclude: number[] = []): Promise<number[]> {
  const skip = new Set([process.pid, ...exclude]);
  const targets = () =>
    [...new Set([...recordedPids(stateDir).map((p) => p.pid), ...markedProcesses(cluster)])].filter(
      (pid) => !skip.has(pid) && isAlive(pid) && hasMarker(pid, cluster),
    );
  let pids = targets();
  if (pids.length === 0) return [];
  for (const pid of pids) signal(pid, 'SIGTERM');
  let alive = await waitAllDead(pids, 1_000);
  // Late starters (spawned while we were stopping) are caught by a second scan.
  pids = [...new Set([...alive, ...targets()])];
  for (const pid of pids) signal(pid, 'SIGKILL');
  alive = await waitAllDead(pids, 3_000);
  return alive;
}
