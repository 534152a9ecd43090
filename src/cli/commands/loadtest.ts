// `unmute-operator loadtest`: realtime conversations against Unmute backends (logic in src/sim/).
import { runLoadtest } from '../../sim/cli/loadtest-cli.ts';

export async function run(argv: string[]): Promise<number> {
  return runLoadtest(argv);
}
