// Event-loop stalls, as a real Unmute backend shows them: Python code that blocks the loop thread
// (the synchronous models.list() of autoselect_model, a slow handler) delays every session of the
// process, /metrics and /v1/health alike.
//
// Two scopes:
// - `process`: the stall blocks this thread (Atomics.wait), exactly as in Python. Right for a
//   worker that is a process of its own (`unmute-sim worker`).
// - `worker`: the stall freezes one worker among several in a process (the fleet runner plays
//   every pod in one process, and a stall of one backend must not stall the others, nor the load
//   generator beside them). While frozen, the worker takes no HTTP request and no websocket
//   upgrade, reads nothing from its sessions' sockets and sends nothing on them; everything
//   resumes, in order, when the stall ends. Its own timers still run meanwhile, so what they send
//   comes out in a burst at the end, as it does after a real stall.
import { performance } from 'node:perf_hooks';

const cell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the event loop for `ms` milliseconds (nothing else in the process runs meanwhile). */
export function blockEventLoop(ms: number): void {
  if (ms > 0) Atomics.wait(cell, 0, 0, ms);
}

export type StallScope = 'process' | 'worker';

export interface FreezeHooks {
  /** Stop reading and sending on every live connection. */
  freeze(): void;
  /** Resume them (and whatever waited for the stall to end). */
  thaw(): void;
}

export class Staller {
  readonly scope: StallScope;
  readonly #hooks: FreezeHooks;
  /** performance.now() when the current freeze ends; 0 when not frozen. */
  #until = 0;
  #timer: NodeJS.Timeout | undefined;
  #thawed: Promise<void> | undefined;
  #resolve: (() => void) | undefined;

  constructor(scope: StallScope, hooks: FreezeHooks) {
    this.scope = scope;
    this.#hooks = hooks;
  }

  get frozen(): boolean {
    return this.#thawed !== undefined;
  }

  /**
   * Stalls for `ms`. Stalls add up as a blocked loop's do: one that starts while another lasts
   * begins when it ends. Returns the end of the stall to wait for (worker scope), or nothing when
   * the stall is over already (process scope: it blocked until now).
   */
  stall(ms: number): Promise<void> | undefined {
    if (ms <= 0) return this.#thawed;
    if (this.scope === 'process') {
      blockEventLoop(ms);
      return undefined;
    }
    const now = performance.now();
    this.#until = Math.max(now, this.#until) + ms;
    if (this.#thawed === undefined) {
      this.#thawed = new Promise((resolve) => (this.#resolve = resolve));
      this.#hooks.freeze();
    }
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#thaw(), this.#until - now);
    return this.#thawed;
  }

  /** Resolves when the worker runs again; undefined when it runs now (go on synchronously). */
  whenRunning(): Promise<void> | undefined {
    return this.#thawed;
  }

  /** Ends a freeze at once (shutdown). */
  stop(): void {
    clearTimeout(this.#timer);
    if (this.#thawed !== undefined) this.#thaw();
  }

  #thaw(): void {
    this.#until = 0;
    this.#timer = undefined;
    const resolve = this.#resolve;
    this.#thawed = undefined;
    this.#resolve = undefined;
    this.#hooks.thaw();
    resolve?.();
  }
}
