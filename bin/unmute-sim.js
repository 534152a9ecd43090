#!/usr/bin/env node
// The simulator's command (simulated backend, load generator, fleet runner); not in the operator image.
// Node 24 runs the TypeScript sources directly (type stripping); no build step is needed.
await import('../src/sim/cli/main.ts');
