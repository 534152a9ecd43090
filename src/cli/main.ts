// Entry point of the `unmute-operator` command: the operator and nothing else (the simulator is the
// separate `unmute-sim` command, src/sim/cli/main.ts, kept out of the operator's image). Each
// subcommand lives in src/cli/commands/<name>.ts and parses its own flags with zod.
import { runCli, type Command } from './dispatch.ts';

const commands: Record<string, Command> = {
  run: { summary: 'run the operator (in-cluster or from a kubeconfig)', load: () => import('./commands/run.ts') },
  render: { summary: 'print every object the operator would create for a CR, offline', load: () => import('./commands/render.ts') },
  crd: { summary: 'print the UnmuteDeployment CRD', load: () => import('./commands/crd.ts') },
  check: { summary: 'read-only preflight of the cluster (and of a CR with -f)', load: () => import('./commands/check.ts') },
};

runCli('unmute-operator', commands, process.argv.slice(2));
