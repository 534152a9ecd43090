// The entry point shared by the `unmute-operator` and `unmute-sim` commands: picks a subcommand from
// a table, loads only that one, hands it the rest of argv and turns its outcome into an exit code.
import { CliError } from './errors.ts';

export interface Command {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

function usage(program: string, commands: Record<string, Command>): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return [`usage: ${program} <command> [flags]`, '', 'commands:', ...lines, '', 'Each command takes --help.'].join('\n');
}

async function dispatch(program: string, commands: Record<string, Command>, argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage(program, commands) + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) throw new CliError(`unknown command "${name}"\n\n${usage(program, commands)}`);
  const mod = await command.load();
  return mod.run(rest);
}

/** Runs the command argv names; exit code 2 for a usage error (CliError, one line, no stack), 1 for any other failure. */
export function runCli(program: string, commands: Record<string, Command>, argv: string[]): void {
  dispatch(program, commands, argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof CliError) {
        process.stderr.write(`${program}: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      process.stderr.write(`${program}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
