// Direct entry of the pod runner process (`node src/sim/fleet/main.ts ...`), the same as
// `unmute-operator sim-fleet`: used by tests and the benchmark without going through the CLI table.
import { CliError } from '../../cli/errors.ts';
import { runSimFleet } from './cli.ts';

runSimFleet(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sim-fleet: ${err instanceof CliError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = err instanceof CliError ? 2 : 1;
  },
);
