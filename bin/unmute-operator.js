#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping); no build step is needed.
// This entry is plain JavaScript so that every TypeScript file is loaded after the compile cache is
// on: with the cache warm (the image fills it when built), Node neither strips types again nor loads
// the WebAssembly compiler that strips them, about 25 MiB the process would otherwise keep for good.
// The cache lives in $NODE_COMPILE_CACHE, else in the temporary directory; where neither can be
// written the operator runs as before, only without the saving.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('../src/cli/main.ts');
