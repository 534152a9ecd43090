// The whole voice pipeline on loopback: a sim-worker that reaches a simulated moshi STT, a moshi
// TTS and a vLLM over the network exactly as Unmute's backend does, and real Opus audio from a
// real encoder. Every server binds 127.0.0.1 on an ephemeral port.
import { afterEach, describe, expect, it } from 'vitest';
import { silencePacketsReal, speechClips } from '../../../src/sim/audio/clips.ts';
import { MoshiServer, startMoshiServer } from '../../../src/sim/moshi/server.ts';
import { startVllmServer, type VllmServer } from '../../../src/sim/vllm/server.ts';
import { remoteServices } from '../../../src/sim/worker/remote.ts';
import { startSimWorker, type SimWorker } from '../../../src/sim/worker/server.ts';
import { seededRng } from '../../../src/sim/random.ts';
import { addressSeed } from '../../../src/sim/fleet/pipeline.ts';
import { FAST, TestClient, scrape, sleep } from './helpers.ts';

const stops: Array<() => Promise<void>> = [];
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of stops.splice(0).reverse()) await s();
});

async function pipeline(opts: { sttBatch?: number; llmModel?: string | null } = {}): Promise<{ w: SimWorker; stt: MoshiServer; tts: MoshiServer; llm: VllmServer }> {
  const stt = await startMoshiServer({ kind: 'stt', host: '127.0.0.1', port: 0, batchSize: opts.sttBatch ?? 4, stepMs: 10 });
  const tts = await startMoshiServer({ kind: 'tts', host: '127.0.0.1', port: 0, batchSize: 4, stepMs: 20, ttsMsPerWord: 100, ttsTtftMs: 100 });
  const llm = await startVllmServer({ host: '127.0.0.1', port: 0, model: 'sim/model', ttftMs: { kind: 'constant', value: 80 }, replyWords: { kind: 'constant', value: 3 }, tokensPerSecond: 100 });
  const llmModel = opts.llmModel === undefined ? 'sim/model' : opts.llmModel;
  const remote = remoteServices({ sttUrl: `ws://localhost:${stt.port}`, ttsUrl: `ws://localhost:${tts.port}`, llmUrl: `http://localhost:${llm.port}`, llmModel, rng: seededRng(1), resolver: async () => ['127.0.0.1'] });
  const w = await startSimWorker({ host: '127.0.0.1', port: 0, ...FAST, llmModel, remote });
  stops.push(() => stt.stop(), () => tts.stop(), () => llm.stop(), () => w.shutdown());
  return { w, stt, tts, llm };
}

function client(url: string): TestClient {
  const c = new TestClient(url);
  clients.push(c);
  return c;
}

const moshiMetric = async (s: MoshiServer, name: string): Promise<number | undefined> => {
  const text = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

describe('the sim-worker with moshi STT/TTS and vLLM servers', () => {
  it('holds one STT stream per session and one TTS stream per reply; a lost STT ends the session with 1011', async () => {
    const { w, stt, tts } = await pipeline();
    const a = client(w.url);
    const b = client(w.url);
    await Promise.all([a.opened, b.opened]);
    for (const c of [a, b]) {
      c.update();
      c.startAudio();
    }
    await Promise.all([a.waitForNth('response.audio.done', 1, 8000), b.waitForNth('response.audio.done', 1, 8000)]);
    expect(stt.usedSlots).toBe(2);
    expect(await moshiMetric(stt, 'asr_open_channels')).toBe(2);
    expect(await moshiMetric(tts, 'py_connect')).toBe(2); // the two greetings
    a.speak(400);
    await a.waitForNth('response.audio.done', 2, 8000);
    expect(await moshiMetric(tts, 'py_connect')).toBe(3);
    const info = (await (await fetch(`http://127.0.0.1:${stt.port}/api/modules_info`)).json()) as Array<Record<string, string>>;
    expect(info[0]).toMatchObject({ type: 'batched_asr', used_slots: '2', total_slots: '4' });
    expect((await scrape(w.url)).get('worker_stt_active_sessions')).toBe(2);

    await stt.stop(); // moshi-server has no graceful shutdown: streams are cut
    const [ca, cb] = await Promise.all([a.closed, b.closed]);
    for (const [c, closed] of [[a, ca], [b, cb]] as const) {
      expect(closed).toEqual({ code: 1011, reason: 'Internal server error :( Complain to Kyutai' });
      expect(c.events.find((e) => e.type === 'error')).toMatchObject({ error: { type: 'fatal', message: 'Internal server error :( Complain to Kyutai' } });
    }
    const m = await scrape(w.url);
    expect(m.get('worker_hard_errors_total')).toBe(2);
    expect(m.get('worker_force_disconnects_total')).toBe(2);
    expect(m.get('worker_stt_active_sessions')).toBe(2); // Unmute's gauge leak after a lost stream
  }, 30_000);

  it('refuses the session beyond the STT batch size with Unmute’s message and counts the misses', async () => {
    const { w } = await pipeline({ sttBatch: 1 });
    const a = client(w.url);
    await a.opened;
    await sleep(300);
    const b = client(w.url);
    const closed = await b.closed;
    expect(closed).toEqual({ code: 1011, reason: "Too many people are connected to service 'stt'. Please try again later." });
    const m = await scrape(w.url);
    expect(m.get('worker_fatal_service_misses_total')).toBe(1);
    expect(m.get('worker_stt_misses_total')).toBe(1);
    expect(m.get('worker_service_misses_total')).toBe(1);
    expect(m.get('worker_stt_ping_time_count')).toBe(2);
  }, 15_000);

  it('hears nothing in a real encoder’s silence and words in a speech clip', async () => {
    const { w } = await pipeline();
    const c = client(w.url);
    await c.opened;
    c.update();
    const clip = speechClips()[0]!;
    c.startAudio({ silence: silencePacketsReal(), speech: clip.packets });
    await c.waitForNth('response.audio.done', 1, 8000);
    await sleep(2500); // silence after the greeting
    const quiet = c.events.map((e) => e.type);
    expect(quiet).not.toContain('conversation.item.input_audio_transcription.delta');
    expect(quiet).not.toContain('unmute.interrupted_by_vad');
    expect(quiet).not.toContain('input_audio_buffer.speech_started');
    expect(quiet.filter((t) => t === 'response.created')).toHaveLength(1);
    c.speak(clip.ms);
    await c.waitForNth('response.audio.done', 2, 10_000);
    const deltas = c.events.filter((e) => e.type === 'conversation.item.input_audio_transcription.delta').map((e) => String(e.delta));
    expect(deltas[0]).toBe('');
    expect(deltas.length).toBeGreaterThan(2);
    const types = c.events.map((e) => e.type);
    expect(types.indexOf('input_audio_buffer.speech_started')).toBeGreaterThan(types.indexOf('conversation.item.input_audio_transcription.delta'));
    expect(types.lastIndexOf('conversation.item.input_audio_transcription.delta')).toBeLessThan(types.lastIndexOf('response.created'));
    expect(types).not.toContain('unmute.interrupted_by_vad');
  }, 20_000);

  it('freezes at each new session while the LLM is unreachable and no model is configured (autoselect), then closes with 1011', async () => {
    const { w, llm } = await pipeline({ llmModel: null });
    await llm.stop(); // connection refused from now on
    // The worker shares this thread: a 10 ms ticker sees the freeze as its longest gap (a
    // scrape of /metrics or /v1/health waits as long, as on the real backend).
    let last = performance.now();
    let longest = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 10);
    const c = client(w.url);
    const closed = await c.closed;
    clearInterval(ticker);
    expect(closed).toEqual({ code: 1011, reason: 'Internal server error :( Complain to Kyutai' });
    expect(longest).toBeGreaterThan(700);
    const m = await scrape(w.url);
    expect(m.get('worker_hard_errors_total')).toBe(1);
    expect(m.get('worker_stt_active_sessions')).toBe(0); // it failed before the STT search
  }, 20_000);
});

describe('addressSeed: each simulated backend draws its own STT/TTS picks', () => {
  it('differs between backends on the same port whose IPs have the same length, and is stable per address', () => {
    expect(addressSeed('10.250.4.1', 8000)).not.toBe(addressSeed('10.250.5.1', 8000));
    expect(addressSeed('10.250.4.1', 8000)).toBe(addressSeed('10.250.4.1', 8000));
    // Two such backends picking between two STT pods: their first picks are not all the same sequence.
    const picks = (ip: string) => {
      const rng = seededRng(addressSeed(ip, 8000));
      return Array.from({ length: 16 }, () => (rng() < 0.5 ? 0 : 1)).join('');
    };
    expect(picks('10.250.4.1')).not.toBe(picks('10.250.5.1'));
  });
});
