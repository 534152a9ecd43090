// The operator ships without the simulator: nothing `unmute-operator` loads reaches src/sim or the
// simulator's `ws` package, the image's build context holds no simulator file, and the simulator's
// subcommands live in their own command. (@kubernetes/client-node itself depends on `ws`, so the
// package is in the image all the same; what is guarded here is that operator code never uses it.)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageFiles, isIgnored, parseDockerignore } from './docker-context.ts';
import { importGraph } from './import-graph.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const operator = importGraph(root, ['bin/unmute-operator.js']);
const node = process.execPath;

describe('the unmute-operator command', () => {
  it('reaches its entry point and every subcommand module through its imports', () => {
    expect([...operator.files]).toEqual(expect.arrayContaining(['src/cli/main.ts', 'src/cli/commands/run.ts', 'src/cli/commands/render.ts', 'src/cli/commands/crd.ts', 'src/operator.ts']));
  });

  it('reaches no simulator file and never imports ws', () => {
    expect([...operator.files].filter((f) => f.startsWith('src/sim/') || f.startsWith('bin/unmute-sim'))).toEqual([]);
    expect(operator.packages.get('ws') ?? []).toEqual([]);
  });

  it('finds a simulator import, so the check above can fail', () => {
    const sim = importGraph(root, ['bin/unmute-sim.js']);
    expect([...sim.files]).toContain('src/sim/worker/server.ts');
    expect(sim.packages.get('ws')).toContain('src/sim/worker/server.ts');
  });

  it('offers run, render and crd, and no simulator subcommand', () => {
    const help = spawnSync(node, ['src/cli/main.ts', '--help'], { cwd: root, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^ {2}run /m);
    expect(help.stdout).not.toMatch(/sim|loadtest/);
    const old = spawnSync(node, ['src/cli/main.ts', 'sim-worker'], { cwd: root, encoding: 'utf8' });
    expect(old.status).toBe(2);
    expect(old.stderr).toContain('unknown command "sim-worker"');
  });
});

describe('the unmute-sim command', () => {
  it('offers worker, loadtest, moshi, vllm and fleet', () => {
    const help = spawnSync(node, ['src/sim/cli/main.ts', '--help'], { cwd: root, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout.match(/^ {2}\S+/gm)?.map((l) => l.trim())).toEqual(['worker', 'loadtest', 'moshi', 'vllm', 'fleet']);
  });
});

describe('the operator image', () => {
  const files = imageFiles(root);

  it('holds every file the operator command loads', () => {
    expect([...operator.files].filter((f) => !files.includes(f))).toEqual([]);
  });

  it('holds no simulator file: src/sim and bin/unmute-sim.js are not even in the build context', () => {
    expect(files.filter((f) => f.startsWith('src/sim/') || f === 'bin/unmute-sim.js')).toEqual([]);
    expect(files.some((f) => f.startsWith('src/runtime/'))).toBe(true);
  });

  it('reads .dockerignore the way Docker does (last match wins, parent directories count, ! re-includes)', () => {
    const rules = parseDockerignore('*\n!src/\nsrc/sim/\n**/*.log\n!bin/a.js');
    expect(isIgnored(rules, 'README.md')).toBe(true);
    expect(isIgnored(rules, 'src/runtime/kube-client.ts')).toBe(false);
    expect(isIgnored(rules, 'src/sim/worker/server.ts')).toBe(true);
    expect(isIgnored(rules, 'src/runtime/debug.log')).toBe(true);
    expect(isIgnored(rules, 'bin/a.js')).toBe(false);
    expect(isIgnored(rules, 'bin/b.js')).toBe(true);
  });
});
