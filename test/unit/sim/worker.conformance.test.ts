// The simulated backend seen from a client on real sockets: event order, errors, queueing,
// capacity faults, health, metrics. Every server binds 127.0.0.1 on an ephemeral port.
import { afterEach, describe, expect, it } from 'vitest';
import { startSimWorker, type SimWorker } from '../../../src/sim/worker/server.ts';
import { FAST, TestClient, scrape, sleep, type Received } from './helpers.ts';

const workers: SimWorker[] = [];
const clients: TestClient[] = [];
async function worker(opts: Parameters<typeof startSimWorker>[0] = {}): Promise<SimWorker> {
  const w = await startSimWorker({ host: '127.0.0.1', port: 0, ...FAST, ...opts });
  workers.push(w);
  return w;
}
function client(w: SimWorker): TestClient {
  const c = new TestClient(w.url);
  clients.push(c);
  return c;
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(workers.splice(0).map((w) => w.shutdown()));
});

/** Event types of one assistant reply, from its response.created to its response.audio.done. */
function replyEvents(events: Received[], nth: number): string[] {
  const created = events.filter((e) => e.type === 'response.created')[nth - 1]!;
  const start = events.indexOf(created);
  const end = events.findIndex((e, i) => i > start && e.type === 'response.audio.done');
  return events.slice(start, end + 1).map((e) => e.type).filter((t) => t !== 'unmute.additional_outputs');
}

describe('sim-worker /v1/realtime conformance', () => {
  it('answers session.update, greets, then runs a user turn with Unmute’s event order', async () => {
    const w = await worker();
    const c = client(w);
    await c.opened;
    expect(c.ws.protocol).toBe('realtime');
    c.update();
    const updated = await c.waitFor((e) => e.type === 'session.updated');
    expect(updated).toMatchObject({ session: { instructions: { type: 'smalltalk' }, voice: 'v', allow_recording: false } });
    expect(updated.event_id).toMatch(/^event_[A-Za-z0-9]{21}$/);
    c.startAudio();
    // The greeting: the bot speaks first once instructions are set and audio flows.
    await c.waitForNth('response.audio.done', 1);
    const greeting = replyEvents(c.events, 1);
    expect(greeting[0]).toBe('response.created');
    expect(greeting.at(-1)).toBe('response.audio.done');
    const idx = (t: string): number => greeting.indexOf(t);
    const last = (t: string): number => greeting.lastIndexOf(t);
    expect(idx('unmute.response.text.delta.ready')).toBeGreaterThan(0);
    expect(idx('response.audio.delta')).toBeGreaterThan(idx('unmute.response.text.delta.ready'));
    expect(idx('response.text.delta')).toBeGreaterThan(idx('unmute.response.text.delta.ready'));
    expect(idx('response.text.done')).toBeGreaterThan(last('unmute.response.text.delta.ready'));
    expect(greeting.filter((t) => t === 'unmute.response.text.delta.ready')).toHaveLength(3);
    expect(greeting.filter((t) => t === 'response.text.delta')).toHaveLength(3);
    const created = c.events.find((e) => e.type === 'response.created')!;
    expect(created).toMatchObject({ response: { object: 'realtime.response', status: 'in_progress', voice: 'v' } });

    // The user speaks 400 ms then is silent: transcription, speech_started, speech_stopped, reply.
    const before = c.events.length;
    c.speak(400);
    await c.waitForNth('response.audio.done', 2);
    const turnEvents = c.events.slice(before).filter((e) => e.type !== 'unmute.additional_outputs');
    const turn = turnEvents.map((e) => e.type);
    // The STT's first message is an empty word, when speech starts; then words; speech_started
    // follows the first non-empty one (Unmute's order: delta "", delta "word1", speech_started).
    const firstDelta = turn.indexOf('conversation.item.input_audio_transcription.delta');
    expect(turnEvents[firstDelta]!.delta).toBe('');
    expect(turn[firstDelta + 1]).toBe('conversation.item.input_audio_transcription.delta');
    expect(turnEvents[firstDelta + 1]!.delta).not.toBe('');
    expect(turn[firstDelta + 2]).toBe('input_audio_buffer.speech_started');
    expect(c.events.slice(0, before).some((e) => e.type === 'conversation.item.input_audio_transcription.delta')).toBe(false);
    expect(turn.indexOf('input_audio_buffer.speech_stopped')).toBeGreaterThan(firstDelta);
    expect(turn.indexOf('response.created')).toBeGreaterThan(turn.indexOf('input_audio_buffer.speech_stopped'));
    expect(turn.lastIndexOf('conversation.item.input_audio_transcription.delta')).toBeLessThan(turn.indexOf('response.created'));
    const second = replyEvents(c.events, 2);
    expect(second[0]).toBe('response.created');
    expect(second.filter((t) => t === 'unmute.response.text.delta.ready')).toHaveLength(3);
    expect(second.indexOf('response.audio.delta')).toBeGreaterThan(second.indexOf('unmute.response.text.delta.ready'));

    // unmute.additional_outputs carries the chat history (what Unmute's loadtest reads).
    const outputs = c.events.filter((e) => e.type === 'unmute.additional_outputs').at(-1)!;
    const history = (outputs.args as { chat_history: Array<{ role: string; content: string }> }).chat_history;
    expect(history[0]!.role).toBe('assistant');
    expect(history.some((m) => m.role === 'user' && m.content.trim() !== '')).toBe(true);
  });

  it('answers an invalid message with an invalid_request_error and keeps the connection open', async () => {
    const w = await worker();
    const c = client(w);
    await c.opened;
    c.send('not json');
    c.send({ type: 'conversation.item.create' });
    c.send({ type: 'session.update', session: { voice: 'v' } }); // allow_recording is required
    await c.waitForNth('error', 3);
    const errors = c.events.filter((e) => e.type === 'error').map((e) => e.error as { type: string; message: string });
    expect(errors.map((e) => e.type)).toEqual(['invalid_request_error', 'invalid_request_error', 'invalid_request_error']);
    expect(errors[0]!.message).toMatch(/^Invalid JSON/);
    expect(errors[1]!.message).toBe('Invalid message');
    c.update();
    await c.waitFor((e) => e.type === 'session.updated');
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  it('queues the fifth concurrent session un-accepted and counts it in worker_active_sessions', async () => {
    const w = await worker();
    const first = [client(w), client(w), client(w), client(w)];
    await Promise.all(first.map((c) => c.opened));
    const fifth = client(w);
    let fifthOpen = false;
    void fifth.opened.then(() => (fifthOpen = true));
    await sleep(400);
    expect(fifthOpen).toBe(false);
    expect(fifth.ws.readyState).toBe(fifth.ws.CONNECTING);
    expect(w.stats()).toMatchObject({ running: 4, queued: 1, activeSessions: 5 });
    const m = await scrape(w.url);
    expect(m.get('worker_active_sessions')).toBe(5);
    expect(m.get('worker_sessions_total')).toBe(5);
    first[0]!.close();
    await fifth.opened;
    expect(fifthOpen).toBe(true);
    await sleep(50);
    expect((await scrape(w.url)).get('worker_active_sessions')).toBe(4);
  });

  it('closes with 1011 and counts a fatal service miss when the STT is at capacity', async () => {
    const w = await worker({ sttSlots: 1 });
    const a = client(w);
    await a.opened;
    const b = client(w);
    await b.opened;
    const closed = await b.closed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).toBe("Too many people are connected to service 'stt'. Please try again later.");
    expect(b.events.find((e) => e.type === 'error')).toMatchObject({ error: { type: 'fatal' } });
    const m = await scrape(w.url);
    expect(m.get('worker_fatal_service_misses_total')).toBe(1);
    expect(m.get('worker_force_disconnects_total')).toBe(1);
    expect(m.get('worker_stt_misses_total')).toBe(1);
    expect(m.get('worker_service_misses_total')).toBe(1);
    expect(m.get('worker_stt_active_sessions')).toBe(1);
    expect(a.ws.readyState).toBe(a.ws.OPEN);
  });

  it('kills the session with 1011 when no TTS slot frees up for a reply, after Unmute’s warnings', async () => {
    const w = await worker();
    const c = client(w);
    await c.opened;
    w.setFaults({ tts_at_capacity: true });
    c.update();
    c.startAudio(); // triggers the greeting, which needs a TTS stream
    const closed = await c.closed;
    expect(closed.code).toBe(1011);
    const errors = c.events.filter((e) => e.type === 'error').map((e) => (e.error as { type: string }).type);
    expect(errors).toEqual(['warning', 'warning', 'warning', 'warning', 'fatal']);
    const m = await scrape(w.url);
    expect(m.get('worker_fatal_service_misses_total')).toBe(1);
    expect(m.get('worker_tts_misses_total')).toBe(5);
    expect(m.get('worker_vllm_active_sessions')).toBe(0);
  });

  it('reports services down in /v1/health (HTTP 200, ok false) and refuses sessions with 1011', async () => {
    const w = await worker({ health: { tts_up: false } });
    const res = await fetch(`${w.url}/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tts_up: false, stt_up: true, llm_up: true, voice_cloning_up: true, ok: false });
    const c = client(w);
    const closed = await c.closed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).toMatch(/^Server is not healthy/);
    // The admin endpoint brings it back.
    const patched = await fetch(`${w.url}/sim/faults`, { method: 'POST', body: JSON.stringify({ tts_up: true }) });
    expect(await patched.json()).toMatchObject({ tts_up: true });
    expect(await (await fetch(`${w.url}/v1/health`)).json()).toMatchObject({ ok: true });
    const bad = await fetch(`${w.url}/sim/faults`, { method: 'POST', body: JSON.stringify({ tts_up: 'yes' }) });
    expect(bad.status).toBe(400);
    const m = await scrape(w.url);
    // Evaluations: two GETs and the session's start-up check; only the last GET was healthy.
    expect(m.get('worker_health_ok_count')).toBe(3);
    expect(m.get('worker_health_ok_sum')).toBe(1);
  });

  it('serves /v1/voices like Unmute and refuses websockets on other paths', async () => {
    const w = await worker();
    const voices = (await (await fetch(`${w.url}/v1/voices`)).json()) as Array<{ source: { path_on_server: string } }>;
    expect(voices[0]!.source.path_on_server).toMatch(/\.wav$|\.mp3$/);
    expect((await fetch(`${w.url}/nope`)).status).toBe(404);
    const c = new TestClient(`${w.url}/other`);
    await expect(c.opened).rejects.toThrow(/403/);
    expect(w.stats().sessionsTotal).toBe(0);
  });

  it('updates the per-turn metrics as Unmute does and settles them when the session ends', async () => {
    const w = await worker();
    const c = client(w);
    await c.opened;
    c.update();
    c.startAudio();
    await c.waitForNth('response.audio.done', 1);
    c.speak(400);
    await c.waitForNth('response.audio.done', 2);
    const during = await scrape(w.url);
    expect(during.get('worker_stt_active_sessions')).toBe(1);
    expect(during.get('worker_tts_active_sessions')).toBe(0);
    c.close();
    await c.closed;
    await sleep(50);
    const m = await scrape(w.url);
    expect(m.get('worker_active_sessions')).toBe(0);
    expect(m.get('worker_session_duration_count')).toBe(1);
    expect(m.get('worker_stt_active_sessions')).toBe(0);
    expect(m.get('worker_stt_session_duration_count')).toBe(1);
    expect(m.get('worker_vllm_ttft_count')).toBe(2);
    expect(m.get('worker_tts_ttft_count')).toBe(2);
    expect(m.get('worker_tts_sessions_total')).toBe(2);
    expect(m.get('worker_vllm_recv_words_total')).toBe(6);
    expect(m.get('worker_vllm_reply_length_count')).toBe(2);
    expect(m.get('worker_stt_recv_words_total')).toBe(2); // 400 ms of speech at 200 ms per word
    expect(m.get('worker_stt_num_words_sum')).toBe(2);
    expect(m.get('worker_stt_sent_frames_total')).toBeGreaterThan(10);
    // TTFT observed in seconds, from the configured constants (100 ms LLM, 120 ms TTS).
    expect(m.get('worker_vllm_ttft_sum')! / 2).toBeGreaterThan(0.09);
    expect(m.get('worker_vllm_ttft_sum')! / 2).toBeLessThan(0.2);
    expect(m.get('worker_stt_sessions_total')).toBe(0); // defined, never incremented (as in Unmute)
  });

  it('lets a user interrupt the bot (unmute.interrupted_by_vad) and counts the cut LLM reply', async () => {
    const w = await worker({ uninterruptibleMs: 0, replyWords: { kind: 'constant', value: 40 }, llmWordsPerSecond: 5 });
    const c = client(w);
    await c.opened;
    c.update();
    c.startAudio();
    await c.waitFor((e) => e.type === 'response.audio.delta');
    c.speak(300);
    await c.waitFor((e) => e.type === 'unmute.interrupted_by_vad');
    await c.waitForNth('response.created', 2);
    const m = await scrape(w.url);
    expect(m.get('worker_vllm_interrupt_total')).toBe(1);
    expect(m.get('worker_tts_interrupt_total')).toBe(0); // Unmute never increments this one
  });

  it('closes with 1000 when the simulated assistant says bye', async () => {
    const w = await worker({ goodbyeAfterReplies: 1 });
    const c = client(w);
    await c.opened;
    c.update();
    c.startAudio();
    const done = await c.waitFor((e) => e.type === 'response.text.done');
    expect(String(done.text)).toMatch(/bye!$/);
    expect((await c.closed).code).toBe(1000);
  });
});
