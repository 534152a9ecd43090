// `unmute-sim loadtest`: flags -> targets + session template -> closed-loop or trace run ->
// report (table or JSON). Exit code 0 when every session completed, 1 otherwise or when the
// preflight (health, voices) fails.
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { CliError } from '../../cli/errors.ts';
import { parseFlags } from '../../cli/flags.ts';
import { KubeClient } from '../../runtime/kube-client.ts';
import { EndpointSliceTargets, sliceLister } from '../loadgen/endpointslices.ts';
import { PreflightError, checkHealth, fetchVoice } from '../loadgen/preflight.ts';
import { parseProfile, planSessions, type ArrivalProfile } from '../loadgen/profile.ts';
import { LiveCounters, runClosedLoop, runPlan, type RunResult, type SessionTemplate } from '../loadgen/runner.ts';
import { fileSpeech, noiseSpeech, readOggOpusPackets } from '../loadgen/speech.ts';
import { buildReport, formatReport } from '../loadgen/stats.ts';
import { staticTargets, type TargetPicker } from '../loadgen/targets.ts';
import { describeDistribution, distributionFlag, durationFlag, sample, seededRng } from '../random.ts';
import { boolFlag, helpRequested, intFlag, numberFlag } from './flag-types.ts';

const HELP = `usage: unmute-sim loadtest [flags]

Drives Unmute backends (real or simulated) with realtime conversations and reports latencies.

targets (one of):
  --server-url URL            backend URL (http://, ws://); repeat or comma-separate for several
  --target-service [NS/]NAME  the ready endpoints of a Service, from its EndpointSlices
  --namespace NS              namespace of --target-service (default: default)
  --target-port NAME|NUMBER   port in the EndpointSlices (default: the only one, or "http")
  --strategy S                round-robin (default) or least-connections
  --refresh DUR               EndpointSlice refresh period (default 1s)

closed loop (Unmute's loadtest):
  --n-workers N               concurrent conversations (default 1)
  --n-conversations N         conversations in total (default: --n-workers)
  --turns N                   user utterances per conversation (default 3)
  --ramp-up DUR               workers start spread over this time (default 2s)

trace mode (open loop, long-lived sessions):
  --profile SPEC              ramp:FROM,TO | step:FROM,TO,AT | spike:BASE,PEAK,AT,WIDTH |
                              diurnal:MIN,MAX[,PERIOD] | constant:RATE | file:PATH.json
                              (rates in sessions per minute of trace time, times with units)
  --trace-duration DUR        length of the trace, in trace time (required with --profile)
  --time-scale X              trace time per wall time, e.g. 60 = 1 trace minute per second (default 1)
  --arrivals KIND             poisson (default) or uniform
  --max-concurrent N          client-side cap on open sessions, extra arrivals skipped (default 1000)
  --session-duration DIST     conversation length in trace time (default lognormal:3m,0.8);
                              in closed-loop mode it replaces --turns

conversation:
  --speech DIST               length of each user utterance (default uniform:1s,3s)
  --think DIST                pause after the assistant before speaking (default 0)
  --chunk-ms N                audio per input_audio_buffer.append, multiple of 20 (default 80)
  --speech-file PATH          Ogg/Opus file to speak (default: noise frames the simulator's VAD hears as speech)
  --voice NAME                voice to ask for (default: the first of /v1/voices)
  --reply-timeout DUR         fail a session waiting longer than this for a reply (default 60s)
  --connect-timeout DUR       give up waiting for a backend slot after this (default: never)
  --max-sessions N            the backends' MAX_CLIENTS, to tell a late upgrade waiting for a slot
                              from one held by a slow backend with a slot free (default 4)
  --per-message-deflate BOOL  offer websocket compression (default false)

run:
  --deadline DUR              hard bound on the whole run (default 1h)
  --skip-preflight            do not check /v1/health and /v1/voices first
  --json                      print the report as JSON
  --seed N                    random seed (default 1)

DUR: 250ms, 1.5s, 3m, 1h (bare numbers are ms). DIST: 300 | uniform:1s,3s | normal:M,SD |
lognormal:MEDIAN,SIGMA | exp:MEAN.
`;

const options = {
  'server-url': { type: 'string', multiple: true },
  'target-service': { type: 'string' },
  namespace: { type: 'string' },
  'target-port': { type: 'string' },
  strategy: { type: 'string' },
  refresh: { type: 'string' },
  'n-workers': { type: 'string' },
  'n-conversations': { type: 'string' },
  turns: { type: 'string' },
  'ramp-up': { type: 'string' },
  profile: { type: 'string' },
  'trace-duration': { type: 'string' },
  'time-scale': { type: 'string' },
  arrivals: { type: 'string' },
  'max-concurrent': { type: 'string' },
  'session-duration': { type: 'string' },
  speech: { type: 'string' },
  think: { type: 'string' },
  'chunk-ms': { type: 'string' },
  'speech-file': { type: 'string' },
  voice: { type: 'string' },
  'reply-timeout': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'max-sessions': { type: 'string' },
  'per-message-deflate': { type: 'string' },
  deadline: { type: 'string' },
  'skip-preflight': { type: 'boolean' },
  json: { type: 'boolean' },
  seed: { type: 'string' },
} as const;

const urlSchema = z.string().refine((s) => {
  try {
    return ['http:', 'https:', 'ws:', 'wss:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, 'must be an http(s):// or ws(s):// URL');

const schema = z
  .object({
    'server-url': z
      .array(z.string())
      .transform((xs) => xs.flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== ''))
      .pipe(z.array(urlSchema))
      .optional(),
    'target-service': z.string().regex(/^([a-z0-9-]+\/)?[a-z0-9-]+$/, 'must be NAME or NAMESPACE/NAME').optional(),
    namespace: z.string().min(1).default('default'),
    'target-port': z.string().min(1).optional(),
    strategy: z.enum(['round-robin', 'least-connections']).default('round-robin'),
    refresh: durationFlag().default(1000),
    'n-workers': intFlag(1, 100_000).default(1),
    'n-conversations': intFlag(1).optional(),
    turns: intFlag(0).optional(),
    'ramp-up': durationFlag().default(2000),
    profile: z.string().optional(),
    'trace-duration': durationFlag().optional(),
    'time-scale': numberFlag(0.001).default(1),
    arrivals: z.enum(['poisson', 'uniform']).default('poisson'),
    'max-concurrent': intFlag(1).default(1000),
    'session-duration': distributionFlag().optional(),
    speech: distributionFlag().optional(),
    think: distributionFlag().optional(),
    'chunk-ms': intFlag(20, 10_000).refine((v) => v % 20 === 0, 'must be a multiple of 20').default(80),
    'speech-file': z.string().min(1).optional(),
    voice: z.string().min(1).optional(),
    'reply-timeout': durationFlag().default(60_000),
    'connect-timeout': durationFlag().optional(),
    'max-sessions': intFlag(1, 10_000).default(4),
    'per-message-deflate': boolFlag().default(false),
    deadline: durationFlag().default(3_600_000),
    'skip-preflight': z.boolean().default(false),
    json: z.boolean().default(false),
    seed: intFlag(0).default(1),
  })
  .superRefine((f, ctx) => {
    const urls = f['server-url']?.length ?? 0;
    if ((urls > 0) === (f['target-service'] !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['server-url'], message: 'give either --server-url or --target-service' });
    }
    if (f.profile !== undefined && f['trace-duration'] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['trace-duration'], message: 'required with --profile' });
    }
    if (f.profile !== undefined && f.turns !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['turns'], message: 'trace mode sessions last --session-duration, not a number of turns' });
    }
  });

type Flags = z.output<typeof schema>;

/** The targets, and what to release once the run is over. */
async function buildPicker(f: Flags): Promise<{ picker: TargetPicker; close(): Promise<void> }> {
  if (f['server-url'] !== undefined && f['server-url'].length > 0) {
    const picker = staticTargets(f['server-url'], f.strategy);
    return { picker, close: async () => picker.close() };
  }
  const [ns, name] = f['target-service']!.includes('/') ? f['target-service']!.split('/') : [f.namespace, f['target-service']!];
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const client = await KubeClient.fromKubeConfig(kc);
  const picker = new EndpointSliceTargets({
    namespace: ns!,
    service: name!,
    ...(f['target-port'] !== undefined ? { port: f['target-port'] } : {}),
    strategy: f.strategy,
    refreshMs: f.refresh,
    listSlices: sliceLister(client),
    onError: (err) => process.stderr.write(`loadtest: EndpointSlice refresh failed: ${(err as Error).message}\n`),
  });
  const close = async () => {
    picker.close();
    await client.close();
  };
  try {
    return { picker: await picker.start(), close };
  } catch (err) {
    await close();
    throw new CliError(`loadtest: cannot list EndpointSlices of ${ns}/${name}: ${(err as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  const f = parseFlags(argv, options, schema, 'loadtest');
  let profile: ArrivalProfile | undefined;
  if (f.profile !== undefined) {
    try {
      profile = parseProfile(f.profile);
    } catch (err) {
      throw new CliError(`loadtest: --profile: ${(err as Error).message}`);
    }
  }
  let speechFactory = noiseSpeech;
  if (f['speech-file'] !== undefined) {
    try {
      speechFactory = fileSpeech(readOggOpusPackets(f['speech-file']));
    } catch (err) {
      throw new CliError(`loadtest: --speech-file: ${(err as Error).message}`);
    }
  }

  const { picker, close } = await buildPicker(f);
  try {
    let voice: string | null = f.voice ?? null;
    if (!f['skip-preflight']) {
      const targets = picker.targets();
      if (targets.length === 0) {
        process.stderr.write('loadtest: no ready target\n');
        return 1;
      }
      try {
        // Every static URL (a short list); for a Service, one of its endpoints.
        for (const t of f['server-url'] !== undefined ? targets : targets.slice(0, 1)) await checkHealth(t);
        const v = await fetchVoice(targets[0]!);
        if (voice === null) voice = v;
      } catch (err) {
        if (err instanceof PreflightError) {
          process.stderr.write(`loadtest: ${err.message}\n`);
          return 1;
        }
        throw err;
      }
    }

    const rng = seededRng(f.seed);
    const template: SessionTemplate = {
      chunkMs: f['chunk-ms'],
      voice,
      replyTimeoutMs: f['reply-timeout'],
      perMessageDeflate: f['per-message-deflate'],
      backendMaxSessions: f['max-sessions'],
      rng,
      ...(f.speech !== undefined ? { speechMs: f.speech } : {}),
      ...(f.think !== undefined ? { thinkMs: f.think } : {}),
      ...(f['connect-timeout'] !== undefined ? { connectTimeoutMs: f['connect-timeout'] } : {}),
    };

    const live = new LiveCounters();
    const progress = !f.json && process.stdout.isTTY === true;
    const ticker = progress ? setInterval(() => process.stdout.write(`\r\x1b[K${live.line()}`), 500) : undefined;
    let run: RunResult;
    try {
      if (profile !== undefined) {
        const sessionDuration = f['session-duration'] ?? { kind: 'lognormal' as const, median: 180_000, sigma: 0.8 };
        const plan = planSessions({ profile, traceMs: f['trace-duration']!, timeScale: f['time-scale'], sessionDuration, rng, arrivals: f.arrivals });
        if (!f.json) {
          process.stdout.write(
            `trace: ${profile.describe}, ${f['trace-duration']! / 1000}s of trace time x${f['time-scale']} -> ${plan.length} sessions over ${(f['trace-duration']! / f['time-scale'] / 1000).toFixed(1)}s, durations ${describeDistribution(sessionDuration)} (trace time)\n`,
          );
        }
        run = await runPlan({ picker, plan, session: () => ({ ...template, speech: speechFactory() }), maxConcurrent: f['max-concurrent'], deadlineMs: f.deadline, live });
      } else {
        const d = f['session-duration'];
        const session = (): SessionTemplate =>
          d !== undefined
            ? { ...template, speech: speechFactory(), durationMs: Math.max(1, sample(d, rng)) }
            : { ...template, speech: speechFactory(), turns: f.turns ?? 3 };
        run = await runClosedLoop({
          picker,
          workers: f['n-workers'],
          conversations: f['n-conversations'] ?? f['n-workers'],
          rampUpMs: f['ramp-up'],
          session,
          deadlineMs: f.deadline,
          live,
        });
      }
    } finally {
      if (ticker !== undefined) {
        clearInterval(ticker);
        process.stdout.write('\r\x1b[K');
      }
    }
    const report = buildReport(run.results, { skipped: run.skipped, wallMs: run.wallMs });
    process.stdout.write(f.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.sessions.completed === report.sessions.total && report.sessions.total > 0 ? 0 : 1;
  } finally {
    await close();
  }
}
