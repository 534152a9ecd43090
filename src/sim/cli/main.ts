// Entry point of the `unmute-sim` command: the simulated Unmute backend, the load generator and the
// simulated fleet's pod runner. Separate from `unmute-operator` so that the operator (its command,
// its image) never carries simulator code; the flag parsing and dispatch are shared (src/cli/).
import { runCli, type Command } from '../../cli/dispatch.ts';

const commands: Record<string, Command> = {
  worker: { summary: 'run a simulated Unmute backend', load: () => import('./worker.ts') },
  loadtest: { summary: 'drive an Unmute backend (real or simulated) with realtime conversations', load: () => import('./loadtest.ts') },
  moshi: { summary: 'run a simulated moshi-server (Unmute\'s STT or TTS)', load: () => import('./moshi.ts') },
  vllm: { summary: 'run a simulated vLLM server', load: () => import('./vllm.ts') },
  fleet: { summary: 'play the pods of a simulated fleet (run inside the cluster netns)', load: () => import('./fleet.ts') },
};

runCli('unmute-sim', commands, process.argv.slice(2));
