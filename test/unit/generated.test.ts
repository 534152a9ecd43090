// The committed generated files match their sources (manifests/, rendered by helm, are checked in
// test/tools/packaging/manifests.test.ts).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceGeneratedFiles } from '../../scripts/generated-files.ts';

const root = join(import.meta.dirname, '..', '..');

describe('generated files', () => {
  for (const [path, content] of Object.entries(sourceGeneratedFiles())) {
    it(`${path} is current (run npm run generate when this fails)`, () => {
      const file = join(root, path);
      expect(existsSync(file), `${path} is missing`).toBe(true);
      expect(readFileSync(file, 'utf8') === content, `${path} is stale`).toBe(true);
    });
  }
});
