// manifests/ is what helm renders from the chart today (run npm run generate when this fails).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceGeneratedFiles } from '../../../scripts/generated-files.ts';
import { manifestFiles } from '../../../scripts/packaging.ts';

const root = join(import.meta.dirname, '..', '..', '..');

describe('generated manifests', () => {
  for (const [path, content] of Object.entries(manifestFiles(sourceGeneratedFiles()))) {
    it(`${path} is current (run npm run generate when this fails)`, () => {
      const file = join(root, path);
      expect(existsSync(file), `${path} is missing`).toBe(true);
      expect(readFileSync(file, 'utf8') === content, `${path} is stale`).toBe(true);
    });
  }
});
