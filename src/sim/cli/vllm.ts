// `unmute-sim vllm`: a simulated vLLM OpenAI-compatible server, until SIGTERM/SIGINT.
import { z } from 'zod';
import { parseFlags } from '../../cli/flags.ts';
import { distributionFlag, durationFlag } from '../random.ts';
import { VllmServer } from '../vllm/server.ts';
import { helpRequested, intFlag, numberFlag } from './flag-types.ts';

const HELP = `usage: unmute-sim vllm --model NAME [flags]

A simulated vLLM server: /v1/models, /health, streaming /v1/chat/completions, /metrics (vllm:*).

  --model NAME              served model name
  --host ADDR               bind address (default 127.0.0.1)
  --port N                  port (default 8000; 0 = any free port)
  --startup DUR             model loading before it listens (default 0)
  --ttft DIST               request start -> first token (default lognormal:250,0.3)
  --tokens-per-second N     generation speed (default 40)
  --reply-words DIST        tokens per reply, a count (default uniform:8,30)
  --max-num-seqs N          requests running at once, the rest wait (default 256)
`;

const schema = z.object({
  model: z.string().min(1),
  host: z.string().min(1).default('127.0.0.1'),
  port: intFlag(0, 65535).default(8000),
  startup: durationFlag().default(0),
  ttft: distributionFlag().optional(),
  'tokens-per-second': numberFlag(0.001).optional(),
  'reply-words': distributionFlag('count').optional(),
  'max-num-seqs': intFlag(1).optional(),
});

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  const keys = ['model', 'host', 'port', 'startup', 'ttft', 'tokens-per-second', 'reply-words', 'max-num-seqs'];
  const f = parseFlags(argv, Object.fromEntries(keys.map((k) => [k, { type: 'string' }])) as Record<string, { type: 'string' }>, schema, 'vllm');
  const server = new VllmServer({
    host: f.host,
    port: f.port,
    model: f.model,
    startupMs: f.startup,
    ...(f.ttft !== undefined ? { ttftMs: f.ttft } : {}),
    ...(f['tokens-per-second'] !== undefined ? { tokensPerSecond: f['tokens-per-second'] } : {}),
    ...(f['reply-words'] !== undefined ? { replyWords: f['reply-words'] } : {}),
    ...(f['max-num-seqs'] !== undefined ? { maxNumSeqs: f['max-num-seqs'] } : {}),
  });
  await server.listen();
  process.stdout.write(`sim-vllm listening on ${server.url} (model ${f.model})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.stop();
  return 0;
}
