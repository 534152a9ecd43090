// Time and timers behind an interface: the work queue, reflector, leader election and event recorder
// run on a fake clock in unit tests instead of real sleeps or global timer mocks.

/** Cancels a scheduled callback; calling it after the callback ran is harmless. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `callback` once after `ms` milliseconds. */
  schedule(ms: number, callback: () => void): Cancel;
}

export function systemClock(): Clock {
  return {
    now: () => Date.now(),
    schedule: (ms, callback) => {
      const timer = setTimeout(callback, Math.max(0, ms));
      return () => clearTimeout(timer);
    },
  };
}

/**
 * Waits `ms` on `clock`. Resolves `true` when the time passed, `false` as soon as `signal` aborts,
 * so loops can write `if (!(await sleep(...))) break;` without catching.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      cancel();
      resolve(false);
    };
    const cancel = clock.schedule(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Random source in [0, 1), injected where jitter matters so tests are deterministic. */
export type Random = () => number;
