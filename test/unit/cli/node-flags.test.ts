// The operator image and the test/benchmark launcher run the operator with the same Node flags.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.ts';

const repoRoot = join(import.meta.dirname, '../../..');

describe('operator node flags', () => {
  it('are the ones in the image entrypoint', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))?.[1];
    expect(JSON.parse(entrypoint ?? '[]')).toEqual(['node', ...OPERATOR_NODE_FLAGS, 'src/cli/main.ts']);
  });
});
