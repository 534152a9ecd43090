// Where the tools of the `tools` test project are: promtool and prometheus from PATH (Debian's
// prometheus package), helm from the control-plane cache (`npm run cluster:build`). The project's
// global setup (test/setup/tools.ts) finds them once and provides the paths to the tests.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { inject } from 'vitest';
import { helmBinary } from '../../scripts/packaging.ts';

export interface Tools {
  promtool: string;
  prometheus: string;
  helm: string;
}

declare module 'vitest' {
  interface ProvidedContext {
    tools: Tools;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir !== '' && existsSync(p)) return p;
  }
  return undefined;
}

/** Every tool's path, or one line per missing tool saying how to get it. */
export function locateTools(): { tools: Tools } | { missing: string[] } {
  const missing: string[] = [];
  const fromPath = (name: string): string => {
    const path = onPath(name);
    if (path === undefined) missing.push(`${name} not found on PATH: run \`bash scripts/setup.sh\` (installs Debian's prometheus package)`);
    return path ?? '';
  };
  const promtool = fromPath('promtool');
  const prometheus = fromPath('prometheus');
  let helm = '';
  try {
    helm = helmBinary();
  } catch (err) {
    missing.push((err as Error).message);
  }
  return missing.length > 0 ? { missing } : { tools: { promtool, prometheus, helm } };
}

/** The tools the global setup found (in a test of the `tools` project). */
export function tools(): Tools {
  return inject('tools');
}
