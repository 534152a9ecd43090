// Leader election on a Lease with client-go's algorithm (tools/leaderelection): acquire every
// retryPeriod (jittered), renew every retryPeriod, give up leadership when no renewal succeeded
// within renewDeadline; another candidate takes over once the record has not changed for
// leaseDuration by its own clock (never by comparing timestamps across machines).
import type { Logger } from '../observability/logger.ts';
import type { RuntimeMetrics } from '../observability/metrics.ts';
import { sleep, type Clock, type Random } from './clock.ts';
import { describeError, findKubeApiError } from './errors.ts';
import { formatMicroTime, type LeaderElectionRecord, type LeaseLock } from './lease-lock.ts';

export interface LeaderElectionOptions {
  lock: LeaseLock;
  /** Unique per process, e.g. the pod name plus a random suffix. */
  identity: string;
  clock: Clock;
  logger: Logger;
  metrics?: RuntimeMetrics;
  random?: Random;
  /** controller-runtime defaults: 15 s, 10 s, 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Clear holderIdentity when `signal` aborts while leading, so a successor need not wait. Default true. */
  releaseOnCancel?: boolean;
  /** Runs when leadership starts; `signal` aborts when it ends. */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Runs once leadership ended (lost or released). */
  onStoppedLeading: () => void;
  /** Runs when a different holder is observed. */
  onNewLeader?: (identity: string) => void;
}

export const leaderElectionDefaults = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;
/** client-go's JitterFactor: acquire retries wait retryPeriod x [1, 2.2). */
export const leaderElectionJitter = 1.2;

/** Throws unless leaseDuration > renewDeadline > 1.2 x retryPeriod > 0 (client-go's validation). */
export function validateLeaderElectionTimings(t: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number }): void {
  if (!(t.leaseDurationMs > 0 && t.renewDeadlineMs > 0 && t.retryPeriodMs > 0)) throw new Error('leader election: durations must be positive');
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) throw new Error('leader election: leaseDuration must be greater than renewDeadline');
  if (!(t.renewDeadlineMs > leaderElectionJitter * t.retryPeriodMs)) {
    throw new Error(`leader election: renewDeadline must be greater than ${leaderElectionJitter} x retryPeriod`);
  }
}

export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #logger: Logger;
  readonly #label: { name: string };
  #observed: LeaderElectionRecord | undefined;
  #observedResourceVersion = '';
  /** Local time at which #observed last changed: the only clock expiry is judged by. */
  #observedAt = 0;
  #reportedLeader = '';
  #lastProblem = '';
  #lastProblemAt = 0;

  constructor(options: LeaderElectionOptions) {
    this.#o = options;
    this.#leaseDurationMs = options.leaseDurationMs ?? leaderElectionDefaults.leaseDurationMs;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? leaderElectionDefaults.renewDeadlineMs;
    this.#retryPeriodMs = options.retryPeriodMs ?? leaderElectionDefaults.retryPeriodMs;
    validateLeaderElectionTimings({ leaseDurationMs: this.#leaseDurationMs, renewDeadlineMs: this.#renewDeadlineMs, retryPeriodMs: this.#retryPeriodMs });
    if (options.identity === '') throw new Error('leader election: identity must not be empty');
    this.#logger = options.logger.child({ lease: options.lock.describe(), identity: options.identity });
    this.#label = { name: options.lock.describe() };
    options.metrics?.leaderElectionMasterStatus.set(this.#label, 0);
    options.metrics?.leaderElectionSlowpath.inc(this.#label, 0);
  }

  /** Whether the last observed record names us. */
  isLeader(): boolean {
    return this.#observed?.holderIdentity === this.#o.identity;
  }

  /** The holder of the last observed record ('' when none). */
  getLeader(): string {
    return this.#observed?.holderIdentity ?? '';
  }

  /**
   * Campaigns until leading, leads until leadership is lost or `signal` aborts, then returns. Like
   * client-go it is one-shot: after losing the lease a process should exit (its caches and queues may
   * hold work another leader now owns).
   */
  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.#acquire(signal))) return;
    const leading = new AbortController();
    this.#o.metrics?.leaderElectionMasterStatus.set(this.#label, 1);
    try {
      void Promise.resolve()
        .then(() => this.#o.onStartedLeading(leading.signal))
        .catch((err: unknown) => this.#logger.error({ err }, 'onStartedLeading failed'));
      await this.#renewUntilLost(signal);
    } finally {
      leading.abort(new Error('leadership ended'));
      this.#o.metrics?.leaderElectionMasterStatus.set(this.#label, 0);
      if (signal.aborted && (this.#o.releaseOnCancel ?? true)) await this.#release();
      this.#o.onStoppedLeading();
    }
  }

  async #acquire(signal: AbortSignal): Promise<boolean> {
    this.#logger.info('attempting to acquire leader lease');
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew(signal)) {
        this.#logger.info('acquired leader lease');
        return true;
      }
      const waitMs = this.#retryPeriodMs * (1 + (this.#o.random ?? Math.random)() * leaderElectionJitter);
      await sleep(this.#o.clock, waitMs, signal);
    }
    return false;
  }

  async #renewUntilLost(signal: AbortSignal): Promise<void> {
    const { clock } = this.#o;
    // We just wrote the Lease, so the first renewal is due after one retry period.
    while (await sleep(clock, this.#retryPeriodMs, signal)) {
      const deadline = clock.now() + this.#renewDeadlineMs;
      let renewed = false;
      for (;;) {
        renewed = await this.#tryAcquireOrRenew(signal, deadline);
        if (renewed || signal.aborted) break;
        if (!(await sleep(clock, this.#retryPeriodMs, signal)) || clock.now() >= deadline) break;
      }
      if (signal.aborted) return;
      if (!renewed) {
        this.#logger.info({ renewDeadlineMs: this.#renewDeadlineMs }, 'failed to renew leader lease in time; leadership lost');
        return;
      }
    }
  }

  /** One attempt; never throws. API calls are bounded by `deadline` (default: renewDeadline from now). */
  async #tryAcquireOrRenew(stop: AbortSignal, deadline?: number): Promise<boolean> {
    const { clock, lock, identity } = this.#o;
    const timeout = new AbortController();
    const budget = (deadline ?? clock.now() + this.#renewDeadlineMs) - clock.now();
    const cancelTimeout = clock.schedule(Math.max(budget, 1), () => timeout.abort(new Error('lease request deadline exceeded')));
    const signal = AbortSignal.any([stop, timeout.signal]);
    try {
      const now = clock.now();
      const desired: LeaderElectionRecord = {
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000),
        acquireTime: formatMicroTime(now),
        renewTime: formatMicroTime(now),
        leaseTransitions: 0,
      };

      // Fast path: we lead and our view is fresh, so update with the resourceVersion we hold.
      if (this.isLeader() && this.#observed !== undefined && this.#leaseValid(now)) {
        const record = { ...desired, acquireTime: this.#observed.acquireTime, leaseTransitions: this.#observed.leaseTransitions };
        try {
          const rv = await lock.update(record, this.#observedResourceVersion, signal);
          this.#observe(record, rv, clock.now());
          return true;
        } catch (err) {
          this.#o.metrics?.leaderElectionSlowpath.inc(this.#label);
          this.#logger.debug({ err }, 'fast-path lease renewal failed; rereading the lease');
        }
      }

      const current = await lock.get(signal);
      if (current === undefined) {
        const rv = await lock.create(desired, signal);
        this.#observe(desired, rv, clock.now());
        return true;
      }
      if (!sameRecord(current.record, this.#observed)) this.#observe(current.record, current.resourceVersion, clock.now());
      else this.#observedResourceVersion = current.resourceVersion;

      const holder = current.record.holderIdentity;
      if (holder !== '' && holder !== identity && this.#leaseValid(clock.now())) return false;

      const record =
        holder === identity
          ? { ...desired, acquireTime: current.record.acquireTime, leaseTransitions: current.record.leaseTransitions }
          : { ...desired, leaseTransitions: current.record.leaseTransitions + 1 };
      const rv = await lock.update(record, current.resourceVersion, signal);
      this.#observe(record, rv, clock.now());
      return true;
    } catch (err) {
      if (!stop.aborted) this.#reportFailure(err);
      return false;
    } finally {
      cancelTimeout();
    }
  }

  /**
   * A failed attempt is normal when another candidate wrote first (409); anything else means this
   * process cannot make progress on its own, so it says why at warn level (once per distinct
   * problem per minute) while it keeps retrying.
   */
  #reportFailure(err: unknown): void {
    const api = findKubeApiError(err);
    if (api?.code === 409) {
      this.#logger.debug({ err }, 'lease acquire/renew attempt lost a race');
      return;
    }
    const where = this.#o.lock.describe();
    const namespace = where.split('/')[0];
    const problem =
      api?.code === 404
        ? `leader election cannot create its Lease ${where}: namespace "${namespace}" does not exist (create it, or set --leader-election-namespace)`
        : api?.code === 403
          ? `leader election is not allowed to read or write the Lease ${where}: ${api.message} (check the operator's RBAC for leases in "${namespace}")`
          : `leader election cannot reach the Lease ${where}: ${describeError(err)}`;
    const now = this.#o.clock.now();
    if (problem === this.#lastProblem && now - this.#lastProblemAt < 60_000) return;
    this.#lastProblem = problem;
    this.#lastProblemAt = now;
    this.#logger.warn({ err }, problem);
  }

  /** The observed record's holder is still within its lease, judged by when we saw it change. */
  #leaseValid(now: number): boolean {
    const seconds = this.#observed?.leaseDurationSeconds ?? 0;
    return this.#observedAt + seconds * 1000 > now;
  }

  #observe(record: LeaderElectionRecord, resourceVersion: string, at: number): void {
    this.#observed = record;
    this.#observedResourceVersion = resourceVersion;
    this.#observedAt = at;
    if (record.holderIdentity !== this.#reportedLeader) {
      this.#reportedLeader = record.holderIdentity;
      if (record.holderIdentity !== '') {
        this.#logger.info({ leader: record.holderIdentity }, 'new leader observed');
        try {
          this.#o.onNewLeader?.(record.holderIdentity);
        } catch (err) {
          this.#logger.error({ err }, 'onNewLeader failed');
        }
      }
    }
  }

  /** Clears holderIdentity so the next candidate acquires at its next retry instead of after expiry. */
  async #release(): Promise<void> {
    if (!this.isLeader() || this.#observed === undefined) return;
    const { clock, lock } = this.#o;
    const now = clock.now();
    const record: LeaderElectionRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: formatMicroTime(now),
      renewTime: formatMicroTime(now),
      leaseTransitions: this.#observed.leaseTransitions,
    };
    const timeout = new AbortController();
    const cancel = clock.schedule(this.#renewDeadlineMs, () => timeout.abort(new Error('lease release deadline exceeded')));
    try {
      const rv = await lock.update(record, this.#observedResourceVersion, timeout.signal);
      this.#observe(record, rv, clock.now());
      this.#logger.info('released leader lease');
    } catch (err) {
      this.#logger.warn({ err }, 'failed to release leader lease; a successor waits for it to expire');
    } finally {
      cancel();
    }
  }
}

function sameRecord(a: LeaderElectionRecord, b: LeaderElectionRecord | undefined): boolean {
  return (
    b !== undefined &&
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}
