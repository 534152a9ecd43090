// The operator image and the test/benchmark launcher run the operator with the same Node flags and entry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATOR_ENTRY, OPERATOR_ENV, OPERATOR_NODE_FLAGS } from '../../../src/cli/node-flags.ts';

const repoRoot = join(import.meta.dirname, '../../..');

describe('operator node flags', () => {
  it('are the ones in the image entrypoint', () => {
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))?.[1];
    expect(JSON.parse(entrypoint ?? '[]')).toEqual(['node', ...OPERATOR_NODE_FLAGS, OPERATOR_ENTRY]);
  });

  it('come with the environment the image sets', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    for (const [key, value] of Object.entries(OPERATOR_ENV)) expect(dockerfile).toMatch(new RegExp(`^ENV ${key}=${value}$`, 'm'));
  });

  it('are the ones the image warms its compile cache with (a cache filled under other flags is not used)', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`RUN node ${OPERATOR_NODE_FLAGS.join(' ')} ${OPERATOR_ENTRY} run --help`);
  });
});
