// `unmute-sim worker`: flags -> SimWorker, run until SIGTERM/SIGINT, then behave as
// Unmute does on SIGTERM (every live session closed with 1012) and exit.
import { z } from 'zod';
import { CliError } from '../../cli/errors.ts';
import { parseFlags } from '../../cli/flags.ts';
import { distributionFlag, seededRng } from '../random.ts';
import { remoteServices } from '../worker/remote.ts';
import { SimWorker, type SimWorkerOptions } from '../worker/server.ts';
import { boolFlag, helpRequested, intFlag, numberFlag } from './flag-types.ts';
import { DEFAULT_SIM_WORKER_CONFIG } from '../worker/config.ts';

const HELP = `usage: unmute-sim worker [flags]

A simulated Unmute backend: /v1/realtime, /v1/health, /v1/voices, /metrics (+ /sim/faults, /sim/state).

  --host ADDR                 bind address (default 127.0.0.1)
  --port N                    port (default 8000; 0 = any free port)
  --max-sessions N            concurrent sessions, the rest wait un-accepted (default 4)
  --stt-delay DIST            user word audio -> transcription delta (default lognormal:500,0.15)
  --llm-ttft DIST             response.created -> first LLM word (default lognormal:250,0.3)
  --tts-ttft DIST             first word to TTS -> first audio delta (default lognormal:320,0.15)
  --stt-ttft DIST             worker_stt_ttft only (default lognormal:40,0.3)
  --service-ping DIST         time to reach an STT/TTS instance (default lognormal:3,0.5)
  --reply-words DIST          words per assistant reply, a count (default uniform:8,30)
  --llm-words-per-second N    LLM generation speed (default 40)
  --tts-ms-per-word MS        spoken duration of a reply word (default 350)
  --user-word-ms MS           voiced audio per transcribed user word (default 400)
  --vad-silence MS            silence after speech that ends the user's turn (default 600)
  --user-silence-timeout MS   bot speaks again after this much user silence, 0 = never (default 7000)
  --audio-frames BOOL         stream the reply audio as frames (default true); false = cheap mode
  --audio-delta-ms MS         audio per response.audio.delta, multiple of 20 (default 80)
  --additional-outputs-ms MS  unmute.additional_outputs cadence, 0 = never (default 1000)
  --goodbye-after-replies N   say "bye!" and close with 1000 after N replies, 0 = never (default 0)
  --stt-slots N               simulated STT batch slots for this worker (default unlimited)
  --tts-slots N               simulated TTS batch slots for this worker (default unlimited)
  --down LIST                 report services down in /v1/health: stt,tts,llm,voice_cloning
  --stt-url URL               a real (or simulated) moshi STT, as KYUTAI_STT_URL (default: $KYUTAI_STT_URL,
                              else in-process); its host resolves to every instance (DNS)
  --tts-url URL               the same for the TTS (KYUTAI_TTS_URL)
  --llm-url URL               an OpenAI-compatible LLM without /v1 (KYUTAI_LLM_URL)
  --llm-model NAME            KYUTAI_LLM_MODEL; unset: Unmute's autoselect (a blocking models.list())
  --decode-audio BOOL         decode the clients' Opus for the STT (default true); false = cheap mode:
                              no decoder, a packet counts as speech by its size (stand-in packets only)
  --stall-per-session MS      fault: block the event loop this long at each new session
  --stall-every MS            fault: block the event loop --stall-ms every MS
  --stall-ms MS               length of a periodic stall (default 1000)
  --per-message-deflate BOOL  negotiate websocket compression (default false)
  --seed N                    random seed (default 1)

DIST: 300 | const:300 | uniform:200,400 | normal:300,50 | lognormal:MEDIAN,SIGMA | exp:MEAN
(durations in ms unless suffixed: 250ms, 1.5s, 2m).
`;

const options = {
  host: { type: 'string' },
  port: { type: 'string' },
  'max-sessions': { type: 'string' },
  'stt-delay': { type: 'string' },
  'llm-ttft': { type: 'string' },
  'tts-ttft': { type: 'string' },
  'stt-ttft': { type: 'string' },
  'service-ping': { type: 'string' },
  'reply-words': { type: 'string' },
  'llm-words-per-second': { type: 'string' },
  'tts-ms-per-word': { type: 'string' },
  'user-word-ms': { type: 'string' },
  'vad-silence': { type: 'string' },
  'user-silence-timeout': { type: 'string' },
  'audio-frames': { type: 'string' },
  'audio-delta-ms': { type: 'string' },
  'additional-outputs-ms': { type: 'string' },
  'goodbye-after-replies': { type: 'string' },
  'stt-slots': { type: 'string' },
  'tts-slots': { type: 'string' },
  down: { type: 'string' },
  'per-message-deflate': { type: 'string' },
  seed: { type: 'string' },
  'stt-url': { type: 'string' },
  'tts-url': { type: 'string' },
  'llm-url': { type: 'string' },
  'llm-model': { type: 'string' },
  'decode-audio': { type: 'string' },
  'stall-per-session': { type: 'string' },
  'stall-every': { type: 'string' },
  'stall-ms': { type: 'string' },
} as const;

const services = ['stt', 'tts', 'llm', 'voice_cloning'] as const;

const schema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: intFlag(0, 65535).default(8000),
  'max-sessions': intFlag(1).optional(),
  'stt-delay': distributionFlag().optional(),
  'llm-ttft': distributionFlag().optional(),
  'tts-ttft': distributionFlag().optional(),
  'stt-ttft': distributionFlag().optional(),
  'service-ping': distributionFlag().optional(),
  'reply-words': distributionFlag('count').optional(),
  'llm-words-per-second': numberFlag(0.001).optional(),
  'tts-ms-per-word': numberFlag(1).optional(),
  'user-word-ms': numberFlag(1).optional(),
  'vad-silence': numberFlag(0).optional(),
  'user-silence-timeout': numberFlag(0).optional(),
  'audio-frames': boolFlag().optional(),
  'audio-delta-ms': intFlag(20).optional(),
  'additional-outputs-ms': numberFlag(0).optional(),
  'goodbye-after-replies': intFlag(0).optional(),
  'stt-slots': intFlag(0).optional(),
  'tts-slots': intFlag(0).optional(),
  down: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== ''))
    .pipe(z.array(z.enum(services)))
    .optional(),
  'per-message-deflate': boolFlag().optional(),
  seed: intFlag(0).optional(),
  'stt-url': z.url().optional(),
  'tts-url': z.url().optional(),
  'llm-url': z.url().optional(),
  'llm-model': z.string().min(1).optional(),
  'decode-audio': boolFlag().optional(),
  'stall-per-session': numberFlag(0).optional(),
  'stall-every': numberFlag(0).optional(),
  'stall-ms': numberFlag(0).default(1000),
});

export function simWorkerOptionsFromArgv(argv: string[]): SimWorkerOptions {
  const f = parseFlags(argv, options, schema, 'worker');
  const down = new Set(f.down ?? []);
  const health = {
    stt_up: !down.has('stt'),
    tts_up: !down.has('tts'),
    llm_up: !down.has('llm'),
    voice_cloning_up: !down.has('voice_cloning'),
  };
  const opts: SimWorkerOptions = { host: f.host, port: f.port, health };
  const set = <K extends keyof SimWorkerOptions>(key: K, value: SimWorkerOptions[K] | undefined): void => {
    if (value !== undefined) opts[key] = value;
  };
  set('maxSessions', f['max-sessions']);
  set('sttDelayMs', f['stt-delay']);
  set('llmTtftMs', f['llm-ttft']);
  set('ttsTtftMs', f['tts-ttft']);
  set('sttTtftMs', f['stt-ttft']);
  set('servicePingMs', f['service-ping']);
  set('replyWords', f['reply-words']);
  set('llmWordsPerSecond', f['llm-words-per-second']);
  set('ttsMsPerWord', f['tts-ms-per-word']);
  set('userWordMs', f['user-word-ms']);
  set('vadSilenceMs', f['vad-silence']);
  set('userSilenceTimeoutMs', f['user-silence-timeout']);
  set('audioFrames', f['audio-frames']);
  set('audioDeltaMs', f['audio-delta-ms']);
  set('additionalOutputsMs', f['additional-outputs-ms']);
  set('goodbyeAfterReplies', f['goodbye-after-replies']);
  set('sttSlots', f['stt-slots']);
  set('ttsSlots', f['tts-slots']);
  set('perMessageDeflate', f['per-message-deflate']);
  set('seed', f.seed);
  set('decodeAudio', f['decode-audio']);
  set('stallPerSessionMs', f['stall-per-session']);
  set('stallEveryMs', f['stall-every']);
  if (f['stall-every'] !== undefined) opts.stallMs = f['stall-ms'];
  // Unmute's environment variables stand in for the flags, as in its container.
  const env = process.env;
  const sttUrl = f['stt-url'] ?? env['KYUTAI_STT_URL'];
  const ttsUrl = f['tts-url'] ?? env['KYUTAI_TTS_URL'];
  const llmUrl = f['llm-url'] ?? env['KYUTAI_LLM_URL'];
  const llmModel = f['llm-model'] ?? env['KYUTAI_LLM_MODEL'] ?? null;
  set('llmModel', llmModel);
  if (sttUrl !== undefined || ttsUrl !== undefined || llmUrl !== undefined) {
    if (sttUrl === undefined || ttsUrl === undefined || llmUrl === undefined) throw new CliError('worker: give all of --stt-url, --tts-url and --llm-url (or none: in-process)');
    opts.remote = remoteServices({ sttUrl, ttsUrl, llmUrl, llmModel, rng: seededRng(f.seed ?? 1), ...(env['KYUTAI_LLM_API_KEY'] ? { llmApiKey: env['KYUTAI_LLM_API_KEY'] } : {}) });
  }
  return opts;
}

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  let worker: SimWorker;
  try {
    worker = new SimWorker(simWorkerOptionsFromArgv(argv));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`worker: ${(err as Error).message}`);
  }
  await worker.listen();
  const c = worker.config;
  process.stdout.write(
    `sim-worker listening on ${worker.url} (max ${c.maxSessions} sessions, audio frames ${c.audioFrames ? `${c.audioDeltaMs} ms` : 'off'}, default ${DEFAULT_SIM_WORKER_CONFIG.maxSessions} in Unmute)\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.stdout.write(`sim-worker: ${signal}, closing ${worker.stats().running} live session(s) with 1012\n`);
      void worker.shutdown().then(resolve, resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}
