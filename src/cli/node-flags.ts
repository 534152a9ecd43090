// The Node flags the operator process runs with: the image's entrypoint (Dockerfile) and the launcher
// of tests and benchmarks (test/support/operator.ts) both use these, so what is measured is what ships.
//
// --max-semi-space-size=8 (MiB): V8 grows the young generation up to 64 MiB per semi-space when many
// objects survive a scavenge, which a reconcile storm causes (each in-flight write holds its body
// and answer across several scavenges): 128 MiB of resident memory for objects that die within a
// second, kept once the storm is over. At 8 MiB the young generation stays at 16 MiB for some more
// (short) scavenges; bench:reconcile at 1,000 fleets ran as fast with 16, 8 or 4. It does
// not bound the work: that is bounded by the caches (metadata only, shared field sets), the flow
// control and the worker count.
//
// --heap-growing-percent=25: after each full collection V8 lets the old generation grow to 1.25 times
// what survived, instead of its own factor (up to 4 times when collections look cheap). A reconcile
// storm promotes much short-lived garbage, and with V8's factor a thousand fleets' first reconcile
// peaked at 551 MiB for 115 MiB of live heap; with 25 % it peaks at 358 MiB, for more frequent full
// collections and no measurable loss of throughput (bench:reconcile). It is a growth rate, not a
// limit: the heap still grows as far as the caches need.
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=25'];

/**
 * The environment the operator process starts with (the image sets it with ENV).
 *
 * MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc arena, up to eight per
 * core, and memory freed in one arena is not handed to another. V8's helper threads and libuv's pool
 * allocate outside the JavaScript heap, and after a reconcile storm the arenas held memory that
 * nothing used. With two arenas, bench:reconcile's peak went from 237 to 224 MiB at 300 fleets and
 * from 315 to 282 MiB at 1,000 (single runs; a run's peak varies by about 25 MiB with when V8
 * collects), with no loss of speed.
 */
export const OPERATOR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/**
 * The script the image's entrypoint runs, relative to the repository root: plain JavaScript that turns
 * on Node's compile cache before any TypeScript loads (bin/unmute-operator.js says why).
 */
export const OPERATOR_ENTRY = 'bin/unmute-operator.js';

/**
 * `node` arguments that start the operator as the image does: its Node flags, its entry, then `args`.
 * `entry` is the entry's path as the caller must name it (OPERATOR_ENTRY from the repository root).
 */
export function operatorNodeArgs(args: readonly string[], entry = OPERATOR_ENTRY): string[] {
  return [...OPERATOR_NODE_FLAGS, entry, ...args];
}
