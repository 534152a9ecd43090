// Entry point of the `unmute-operator` command: picks a subcommand and hands it the rest of argv.
// Each subcommand lives in src/cli/commands/<name>.ts and parses its own flags with zod.
import { CliError } from './errors.ts';

const commands: Record<string, { summary: string; load: () => Promise<{ run: (argv: string[]) => Promise<number> }> }> = {
  run: { summary: 'run the operator (in-cluster or from a kubeconfig)', load: () => import('./commands/run.ts') },
  render: { summary: 'print every object the operator would create for a CR, offline', load: () => import('./commands/render.ts') },
  crd: { summary: 'print the UnmuteDeployment CRD', load: () => import('./commands/crd.ts') },
  check: { summary: 'read-only preflight of the cluster (and of a CR with -f)', load: () => import('./commands/check.ts') },
  'sim-worker': { summary: 'run a simulated Unmute backend', load: () => import('./commands/sim-worker.ts') },
  'sim-fleet': { summary: 'play the pods of a simulated fleet (run inside the cluster netns)', load: () => import('./commands/sim-fleet.ts') },
  loadtest: { summary: 'drive an Unmute backend (real or simulated) with realtime conversations', load: () => import('./commands/loadtest.ts') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return ['usage: unmute-operator <command> [flags]', '', 'commands:', ...lines, '', 'Each command takes --help.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) throw new CliError(`unknown command "${name}"\n\n${usage()}`);
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`unmute-operator: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`unmute-operator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
