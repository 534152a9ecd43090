// vitest globalSetup of project `tools`: tests that run promtool, a real Prometheus or helm. Their
// tools are found once here; a missing one stops the run with what to install, instead of every
// test failing (or, worse, being skipped) on its own.
import type { TestProject } from 'vitest/node';
import { locateTools } from '../support/tools.ts';

export default function setup(project: TestProject): void {
  const found = locateTools();
  if ('missing' in found) throw new Error(`the tools project needs:\n  - ${found.missing.join('\n  - ')}`);
  project.provide('tools', found.tools);
}
