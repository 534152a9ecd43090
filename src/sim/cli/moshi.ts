// `unmute-sim moshi`: a simulated moshi-server running Unmute's STT or TTS module, until
// SIGTERM/SIGINT, which it does not handle gracefully (every stream is cut, as the real one's).
import { z } from 'zod';
import { parseFlags } from '../../cli/flags.ts';
import { durationFlag } from '../random.ts';
import { MoshiServer } from '../moshi/server.ts';
import { helpRequested, intFlag, numberFlag } from './flag-types.ts';

const HELP = `usage: unmute-sim moshi --kind stt|tts [flags]

A simulated moshi-server with Unmute's STT (/api/asr-streaming) or TTS (/api/tts_streaming)
module, /api/build_info, /api/modules_info and /metrics (asr_* or py_*).

  --kind stt|tts         the module
  --host ADDR            bind address (default 127.0.0.1)
  --port N               port (default 8080; 0 = any free port)
  --batch-size N         concurrent streams (default: 64 for stt, 16 for tts, Unmute's prod configs)
  --startup DUR          model loading before it listens (default 0; real ones take minutes)
  --step-ms MS           one batched model step (default 30 for stt, 40 for tts)
  --tts-ms-per-word MS   spoken length of a word (default 350)
  --tts-ttft DUR         first text -> first audio (default 300ms)
`;

const schema = z.object({
  kind: z.enum(['stt', 'tts']),
  host: z.string().min(1).default('127.0.0.1'),
  port: intFlag(0, 65535).default(8080),
  'batch-size': intFlag(1, 4096).optional(),
  startup: durationFlag().default(0),
  'step-ms': numberFlag(1).optional(),
  'tts-ms-per-word': numberFlag(1).default(350),
  'tts-ttft': durationFlag().default(300),
});

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  const f = parseFlags(
    argv,
    Object.fromEntries(['kind', 'host', 'port', 'batch-size', 'startup', 'step-ms', 'tts-ms-per-word', 'tts-ttft'].map((k) => [k, { type: 'string' }])) as Record<string, { type: 'string' }>,
    schema,
    'moshi',
  );
  const server = new MoshiServer({
    kind: f.kind,
    host: f.host,
    port: f.port,
    batchSize: f['batch-size'] ?? (f.kind === 'stt' ? 64 : 16),
    startupMs: f.startup,
    ttsMsPerWord: f['tts-ms-per-word'],
    ttsTtftMs: f['tts-ttft'],
    ...(f['step-ms'] !== undefined ? { stepMs: f['step-ms'] } : {}),
  });
  await server.listen();
  process.stdout.write(`sim-moshi ${f.kind} listening on ${server.url} (batch size ${server.options.batchSize})\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.stop();
  return 0;
}
