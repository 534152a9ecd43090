// `unmute-operator sim-fleet`: the simulated fleet's pod runner (logic in src/sim/fleet/).
import { runSimFleet } from '../../sim/fleet/cli.ts';

export async function run(argv: string[]): Promise<number> {
  return runSimFleet(argv);
}
