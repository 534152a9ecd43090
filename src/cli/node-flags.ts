// The Node flags the operator process runs with: the image's entrypoint (Dockerfile) and the launcher
// of tests and benchmarks (test/support/operator.ts) both use these, so what is measured is what ships.
//
// --max-semi-space-size=16 (MiB): V8 grows the young generation up to 64 MiB per semi-space when many
// objects survive a scavenge, which a reconcile storm causes (each in-flight write holds its body
// and answer across several scavenges): 128 MiB of resident memory for objects that die within a
// second. At 16 MiB the young generation stays at 32 MiB for some more (short) scavenges. It does
// not bound the work: that is bounded by the caches (metadata only, shared field sets), the flow
// control and the worker count.
//
// --heap-growing-percent=25: after each full collection V8 lets the old generation grow to 1.25 times
// what survived, instead of its own factor (up to 4 times when collections look cheap). A reconcile
// storm promotes much short-lived garbage, and with V8's factor a thousand fleets' first reconcile
// peaked at 551 MiB for 115 MiB of live heap; with 25 % it peaks at 358 MiB, for more frequent full
// collections and no measurable loss of throughput (bench:reconcile). It is a growth rate, not a
// limit: the heap still grows as far as the caches need.
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16', '--heap-growing-percent=25'];
