// npm run bench:rotation [-- --pods 200 --occupancy 0.9 --mean-session-s 180 --minutes 60 --accept-until 4 --seed 1]
//
// API writes of load-aware routing at scale, from the operator's own rotation rule
// (src/autoscaler/rotation.ts), without a cluster: `pods` backends of 4 slots, sessions arriving
// as a Poisson process at the rate that keeps `occupancy` of all slots busy (Little's law), each
// sent to a random backend in rotation (as a Service spreads them), lasting an exponential time.
// The fast path reads the hot backends every 500 ms and the full pass every backend every 5 s,
// as the operator does; every change of a pod's serving label is one PATCH. Reports writes per
// second, flips per session, how many callers reached a backend that filled up between two reads
// (they queue), how often none was in rotation, and free slots.
// Pure simulation, seeded: the same arguments give the same figures.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { ComponentPod } from '../src/autoscaler/pool.ts';
import { hotPods, rotationChanges } from '../src/autoscaler/rotation.ts';
import { ROTATION_INTERVAL_MS } from '../src/controller/rotation.ts';
import { seededRng } from '../src/sim/random.ts';

const args = z
  .object({
    pods: z.coerce.number().int().min(1).max(100_000).default(200),
    occupancy: z.coerce.number().min(0.05).max(1.2).default(0.9),
    'mean-session-s': z.coerce.number().positive().max(3600).default(180),
    minutes: z.coerce.number().positive().max(24 * 60).default(60),
    slots: z.coerce.number().int().min(1).max(64).default(4),
    'accept-until': z.coerce.number().int().min(1).max(64).optional(),
    'interval-s': z.coerce.number().positive().max(60).default(5),
    seed: z.coerce.number().int().default(1),
  })
  .parse(
    parseArgs({
      options: {
        pods: { type: 'string' },
        occupancy: { type: 'string' },
        'mean-session-s': { type: 'string' },
        minutes: { type: 'string' },
        slots: { type: 'string' },
        'accept-until': { type: 'string' },
        'interval-s': { type: 'string' },
        seed: { type: 'string' },
      },
    }).values,
  );

const rng = seededRng(args.seed);
const exp = (mean: number) => -Math.log(1 - rng()) * mean;
const slots = args.slots;
// backend.routing.acceptUntil: a backend leaves rotation at this many sessions (default: all its slots).
const until = Math.min(args['accept-until'] ?? slots, slots);
const rate = (args.pods * slots * args.occupancy) / args['mean-session-s']; // sessions per second

interface Backend {
  name: string;
  full: boolean;
  ends: number[]; // end times (ms) of the sessions it holds
}
const backends: Backend[] = Array.from({ length: args.pods }, (_, i) => ({ name: `b${i}`, full: false, ends: [] }));
const byName = new Map(backends.map((b) => [b.name, b]));
const view = (b: Backend, nowMs: number): ComponentPod => ({ name: b.name, serving: true, ...(b.full ? { full: true } : {}), phase: 'Running', terminating: false, load: b.ends.length, observedAtMs: nowMs });

const endMs = args.minutes * 60_000;
const warmupMs = Math.min(endMs / 4, 10 * args['mean-session-s'] * 1000);
let writes = 0;
let sessions = 0;
let noneInRotation = 0;
let toFullBackend = 0;
let freeSum = 0;
let freeSamples = 0;
let hot = new Set<string>();
let nextArrival = exp(1000 / rate);
const apply = (changes: { toFull: string[]; toRotation: string[] }, t: number) => {
  for (const n of changes.toFull) byName.get(n)!.full = true;
  for (const n of changes.toRotation) byName.get(n)!.full = false;
  if (t >= warmupMs) writes += changes.toFull.length + changes.toRotation.length;
};

// One tick per 100 ms of simulated time: arrivals and ends inside it, then the reads due.
for (let t = 0; t < endMs; t += 100) {
  for (const b of backends) b.ends = b.ends.filter((e) => e > t);
  while (nextArrival < t + 100) {
    const open = backends.filter((b) => !b.full);
    if (t >= warmupMs) sessions++;
    if (open.length === 0) {
      if (t >= warmupMs) noneInRotation++;
    } else {
      // A backend over its slots queues the caller (Unmute): it reached its slots since the last read.
      const b = open[Math.floor(rng() * open.length)]!;
      if (b.ends.length >= slots && t >= warmupMs) toFullBackend++;
      b.ends.push(nextArrival + exp(args['mean-session-s'] * 1000));
    }
    nextArrival += exp(1000 / rate);
  }
  if (t % (args['interval-s'] * 1000) === 0) {
    const all = backends.map((b) => view(b, t));
    apply(rotationChanges(all, until), t);
    hot = new Set(hotPods(backends.map((b) => view(b, t)), until));
  } else if (t % ROTATION_INTERVAL_MS === 0 && hot.size > 0) {
    const read = backends.filter((b) => hot.has(b.name)).map((b) => view(b, t));
    apply(rotationChanges(read, until), t);
    hot = new Set(hotPods(read, until));
  }
  if (t >= warmupMs) {
    freeSum += backends.filter((b) => !b.full).reduce((n, b) => n + Math.max(0, slots - b.ends.length), 0);
    freeSamples++;
  }
}

const measuredS = (endMs - warmupMs) / 1000;
const figures = {
  pods: args.pods,
  accept_until: until,
  occupancy: args.occupancy,
  mean_session_s: args['mean-session-s'],
  sessions_per_s: Number(rate.toFixed(3)),
  api_writes_per_s: Number((writes / measuredS).toFixed(3)),
  writes_per_session: Number((writes / Math.max(1, sessions)).toFixed(3)),
  callers_with_no_backend_in_rotation: noneInRotation,
  callers_sent_to_a_full_backend: toFullBackend,
  free_slots_mean: Number((freeSum / Math.max(1, freeSamples)).toFixed(1)),
};
console.log(`${args.pods} backends × ${slots} slots at ${Math.round(args.occupancy * 100)} % occupancy, sessions of ${args['mean-session-s']} s on average: ${figures.sessions_per_s} sessions/s`);
console.log(`label writes: ${figures.api_writes_per_s}/s (${figures.writes_per_session} per session); of ${sessions} callers, ${toFullBackend} reached a backend that filled up since its last read, ${noneInRotation} found none in rotation`);
console.log(JSON.stringify(figures));
