// The Node flags the operator process runs with: the image's entrypoint (Dockerfile) and the launcher
// of tests and benchmarks (test/support/operator.ts) both use these, so what is measured is what ships.
//
// --max-semi-space-size=16 (MiB): V8 grows the young generation up to 64 MiB per semi-space when many
// objects survive a scavenge, which a reconcile storm causes (each in-flight write holds its body
// and answer across several scavenges): 128 MiB of resident memory for objects that die within a
// second. At 16 MiB the young generation stays at 32 MiB for some more (short) scavenges. It does
// not bound the work: that is bounded by the caches (metadata only, shared field sets), the flow
// control and the worker count; the old generation has no limit set.
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
