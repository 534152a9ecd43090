// Event-loop stalls, as a real Unmute backend shows them: Python code that blocks the loop thread
// (the synchronous models.list() of autoselect_model, a slow handler) delays every session of the
// process, /metrics and /v1/health alike. Atomics.wait blocks this thread the same way.
const cell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the event loop for `ms` milliseconds (nothing else in the process runs meanwhile). */
export function blockEventLoop(ms: number): void {
  if (ms > 0) Atomics.wait(cell, 0, 0, ms);
}
