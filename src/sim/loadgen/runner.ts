// Drives many sessions against a TargetPicker. Two shapes:
// - closed loop (Unmute's loadtest): N concurrent workers run conversations back to back until M
//   have been started;
// - a plan (trace mode, fleet benchmark): sessions start at given wall-clock offsets with given
//   durations, whatever the state of the previous ones (open loop).
// Every run is bounded: a deadline aborts what is still running, and nothing restarts by itself.
import { performance } from 'node:perf_hooks';
import type { PlannedSession } from './profile.ts';
import { startSession, type SessionOptions, type SessionOutcome, type SessionResult } from './session.ts';
import type { TargetPicker } from './targets.ts';

export type SessionTemplate = Omit<SessionOptions, 'url' | 'signal' | 'onOpen'>;

/** Live counters for a progress line. */
export class LiveCounters {
  started = 0;
  connecting = 0;
  open = 0;
  readonly done: Record<SessionOutcome, number> = { completed: 0, dropped: 0, refused: 0, failed: 0, aborted: 0 };
  skipped = 0;
  readonly startedAt = performance.now();

  line(): string {
    const d = this.done;
    const secs = ((performance.now() - this.startedAt) / 1000).toFixed(1);
    return `[${secs}s] open ${this.open}, waiting for a slot ${this.connecting} | completed ${d.completed}, dropped ${d.dropped}, refused ${d.refused}, failed ${d.failed}${d.aborted ? `, aborted ${d.aborted}` : ''}${this.skipped ? `, skipped ${this.skipped}` : ''}`;
  }
}

export interface RunResult {
  results: SessionResult[];
  /** Planned sessions not started because maxConcurrent was reached. */
  skipped: number;
  wallMs: number;
}

interface Common {
  picker: TargetPicker;
  /** The same options for every session, or a factory called once per session (fresh speech, sampled lengths). */
  session: SessionTemplate | ((index: number) => SessionTemplate);
  /** Hard bound on the run; sessions still running then are aborted. */
  deadlineMs?: number;
  signal?: AbortSignal;
  live?: LiveCounters;
  onResult?: (r: SessionResult) => void;
}

function templateFor(o: Common, index: number): SessionTemplate {
  return typeof o.session === 'function' ? o.session(index) : o.session;
}

function noTarget(): SessionResult {
  return { url: '', outcome: 'refused', error: 'no ready target', startedAt: Date.now(), durationMs: 0, userTurns: 0, replies: [], serverErrors: [] };
}

/** Starts one session on a picked target, keeping the lease and the live counters straight. */
export async function runOne(picker: TargetPicker, options: Omit<SessionOptions, 'url'>, live?: LiveCounters): Promise<SessionResult> {
  const lease = picker.pick();
  if (lease === undefined) {
    if (live !== undefined) live.done.refused++;
    return noTarget();
  }
  if (live !== undefined) {
    live.started++;
    live.connecting++;
  }
  let opened = false;
  try {
    const result = await startSession({
      ...options,
      url: lease.url,
      onOpen: (q) => {
        opened = true;
        if (live !== undefined) {
          live.connecting--;
          live.open++;
        }
        options.onOpen?.(q);
      },
    });
    if (live !== undefined) {
      if (opened) live.open--;
      else live.connecting--;
      live.done[result.outcome]++;
    }
    return result;
  } finally {
    lease.release();
  }
}

function withDeadline(o: Common): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const onAbort = (): void => ctl.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) ctl.abort();
  const timer = o.deadlineMs === undefined ? undefined : setTimeout(() => ctl.abort(), o.deadlineMs);
  return {
    signal: ctl.signal,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    },
  };
}

export interface ClosedLoopOptions extends Common {
  /** Concurrent conversations (Unmute's --n-workers). */
  workers: number;
  /** Conversations in total (Unmute's --n-conversations). */
  conversations: number;
  /** Workers start spread over this time (Unmute spreads them over 2 s). */
  rampUpMs?: number;
}

export async function runClosedLoop(o: ClosedLoopOptions): Promise<RunResult> {
  const t0 = performance.now();
  const { signal, dispose } = withDeadline(o);
  const results: SessionResult[] = [];
  let next = 0;
  const rampUp = o.rampUpMs ?? 2000;
  const worker = async (i: number): Promise<void> => {
    const delay = o.workers > 1 ? (rampUp * i) / o.workers : 0;
    if (delay > 0) await sleep(delay, signal);
    while (!signal.aborted && next < o.conversations) {
      const index = next++;
      const r = await runOne(o.picker, { ...templateFor(o, index), signal }, o.live);
      results.push(r);
      o.onResult?.(r);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.workers, o.conversations) }, (_, i) => worker(i)));
  } finally {
    dispose();
  }
  return { results, skipped: 0, wallMs: performance.now() - t0 };
}

export interface PlanRunOptions extends Common {
  plan: readonly PlannedSession[];
  /** Client-side cap on simultaneous sessions; arrivals beyond it are skipped and counted. */
  maxConcurrent?: number;
  /**
   * Called right after the session numbered `index` was given a target (url undefined: none
   * ready), before it connects: the moment to record what the fleet looked like when it was routed.
   */
  onPick?: (index: number, url: string | undefined) => void;
  /** As onResult, with the number onPick was given (both count started sessions from 0). */
  onIndexedResult?: (index: number, r: SessionResult) => void;
}

export async function runPlan(o: PlanRunOptions): Promise<RunResult> {
  const t0 = performance.now();
  const { signal, dispose } = withDeadline(o);
  const results: SessionResult[] = [];
  const running = new Set<Promise<void>>();
  const plan = [...o.plan].sort((a, b) => a.atMs - b.atMs);
  let skipped = 0;
  let index = 0;
  try {
    for (const p of plan) {
      const wait = t0 + p.atMs - performance.now();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) break;
      if (o.maxConcurrent !== undefined && running.size >= o.maxConcurrent) {
        skipped++;
        if (o.live !== undefined) o.live.skipped++;
        continue;
      }
      const i = index++;
      const onPick = o.onPick;
      const picker: TargetPicker =
        onPick === undefined
          ? o.picker
          : {
              pick: () => {
                const lease = o.picker.pick();
                onPick(i, lease?.url);
                return lease;
              },
              targets: () => o.picker.targets(),
              close: () => {},
            };
      const job = runOne(picker, { ...templateFor(o, i), durationMs: p.durationMs, signal }, o.live).then((r) => {
        results.push(r);
        o.onResult?.(r);
        o.onIndexedResult?.(i, r);
      });
      const tracked = job.finally(() => running.delete(tracked));
      running.add(tracked);
    }
    await Promise.all([...running]);
  } finally {
    dispose();
  }
  return { results, skipped, wallMs: performance.now() - t0 };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
