// The static import graph of the repository's TypeScript sources, as far as they import each
// other: every `import`/`export ... from`, type-only imports included, and every `import('...')`
// with a literal specifier (how the command tables load their subcommands). Packages are leaves,
// recorded by name.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

export interface ImportGraph {
  /** Repo-relative paths of every source file reached, the entry points included. */
  files: Set<string>;
  /** Package name → the files importing it. */
  packages: Map<string, string[]>;
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export function importGraph(root: string, entries: string[]): ImportGraph {
  const files = new Set<string>();
  const packages = new Map<string, string[]>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(resolve(root, file), 'utf8');
    for (const { fileName: specifier } of ts.preProcessFile(text, true, true).importedFiles) {
      if (specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) {
        queue.push(relative(root, resolve(root, dirname(file), specifier)));
        continue;
      }
      const name = packageName(specifier);
      packages.set(name, [...(packages.get(name) ?? []), file]);
    }
  }
  return { files, packages };
}
