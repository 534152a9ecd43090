// `unmute-operator sim-worker`: a simulated Unmute backend (logic in src/sim/).
import { runSimWorker } from '../../sim/cli/sim-worker-cli.ts';

export async function run(argv: string[]): Promise<number> {
  return runSimWorker(argv);
}
