// What `docker build` would put into the operator image, worked out from the repository's files,
// .dockerignore (Docker's rules: patterns in order, the last match wins, a match on a parent
// directory counts, `!` re-includes) and the COPY lines of the Dockerfile's final stage.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

interface Rule {
  exclude: boolean;
  pattern: RegExp;
}

/** A .dockerignore pattern as a regular expression over repo-relative paths. */
function patternRegExp(pattern: string): RegExp {
  const clean = posix.normalize(pattern.replace(/^\/+/, '')).replace(/\/$/, '');
  let re = '';
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i]!;
    if (clean.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 2;
    } else if (clean.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseDockerignore(text: string): Rule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => (l.startsWith('!') ? { exclude: false, pattern: patternRegExp(l.slice(1)) } : { exclude: true, pattern: patternRegExp(l) }));
}

/** Whether `path` (repo-relative, `/`-separated) is left out of the build context. */
export function isIgnored(rules: Rule[], path: string): boolean {
  const parts = path.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) if (candidates.some((c) => rule.pattern.test(c))) ignored = rule.exclude;
  return ignored;
}

/** Every file under `root`, repo-relative; dependencies and git metadata are not sources. */
export function repoFiles(root: string, dir = ''): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const path = dir === '' ? e.name : `${dir}/${e.name}`;
    if (e.name === 'node_modules' || e.name === '.git') return [];
    return e.isDirectory() ? repoFiles(root, path) : [path];
  });
}

/** The source paths of the final stage's `COPY` lines (those from the build context, not `--from`). */
export function finalStageCopySources(dockerfile: string): string[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const finalFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  return lines
    .slice(finalFrom + 1)
    .filter((l) => /^COPY\s/i.test(l) && !/--from=/i.test(l))
    .flatMap((l) => l.trim().split(/\s+/).slice(1, -1))
    .filter((arg) => !arg.startsWith('--'));
}

/** Files of the build context that the final stage copies into the image. */
export function imageFiles(root: string): string[] {
  const rules = parseDockerignore(readFileSync(join(root, '.dockerignore'), 'utf8'));
  const sources = finalStageCopySources(readFileSync(join(root, 'Dockerfile'), 'utf8')).map((s) => s.replace(/\/$/, ''));
  return repoFiles(root)
    .filter((f) => !isIgnored(rules, f))
    .filter((f) => sources.some((s) => f === s || f.startsWith(`${s}/`)));
}
