// Every doc link a check prints points at a heading that exists, and the guide is linked from the README.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOC } from '../../../src/check/docs.ts';

const root = join(import.meta.dirname, '..', '..', '..');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function anchors(file: string): Set<string> {
  const text = readFileSync(join(root, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

describe('doc links of the checks', () => {
  for (const [name, link] of Object.entries(DOC)) {
    it(`${name} → ${link} exists`, () => {
      const [file, anchor] = link.split('#') as [string, string];
      expect(anchors(file)).toContain(anchor);
    });
  }

  it('the README links the getting-started guide', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('(docs/getting-started.md)');
  });

  it('the guide links only sections that exist', () => {
    const text = readFileSync(join(root, 'docs/getting-started.md'), 'utf8');
    for (const m of text.matchAll(/\]\(([a-z-]+\.md)#([^)]+)\)/g)) expect(anchors(`docs/${m[1]}`), m[0]).toContain(m[2]);
  });
});
