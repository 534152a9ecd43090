// Readings are parsed as the text format defines them: anything else is a problem with a reason.
import { describe, expect, it } from 'vitest';
import { GaugeScanner, MAX_SAMPLE_LINE_BYTES, parseSampleValue, readGauge } from '../../../src/autoscaler/exposition.ts';

const read = (text: string) => readGauge(text, 'worker_active_sessions');

describe('reading worker_active_sessions', () => {
  it.each([
    ['an unlabelled sample', '# HELP worker_active_sessions x\n# TYPE worker_active_sessions gauge\nworker_active_sessions 3.0\n', 3],
    ['a labelled sample with a timestamp', 'worker_active_sessions{pod="a}b"} 2 1700000000000\n', 2],
    ['a sample with Windows line ends', 'worker_active_sessions 1\r\nworker_sessions_total 9\r\n', 1],
    ['an exponent', 'worker_active_sessions 4e0\n', 4],
    ['a value the other metrics with the same prefix do not disturb', 'worker_active_sessions_total 7\nworker_active_sessions 0\n', 0],
  ])('accepts %s', (_, text, value) => {
    expect(read(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['a line without a value', 'worker_active_sessions \n', 'worker_active_sessions has no value'],
    ['a hex number', 'worker_active_sessions 0x10\n', 'worker_active_sessions has value "0x10", not a number'],
    ['the series twice', 'worker_active_sessions 0\nworker_active_sessions 50\n', 'worker_active_sessions appears 2 times'],
    ['NaN', 'worker_active_sessions NaN\n', 'worker_active_sessions is NaN'],
    ['+Inf', 'worker_active_sessions +Inf\n', 'worker_active_sessions is +Inf'],
    ['a negative value', 'worker_active_sessions -1\n', 'worker_active_sessions is negative (-1)'],
    ['no such series', 'worker_sessions_total 3\n', 'worker_active_sessions is missing from /metrics'],
    ['an unclosed label set', 'worker_active_sessions{pod="x 3\n', 'worker_active_sessions has no value'],
  ])('refuses %s', (_, text, problem) => {
    expect(read(text)).toEqual({ ok: false, problem });
  });

  it('reads lines split across chunks', () => {
    const s = new GaugeScanner('worker_active_sessions');
    for (const chunk of ['worker_sess', 'ions_total 1\nworker_active_', 'sessions 1', '2\n']) s.push(chunk);
    expect(s.end()).toEqual({ ok: true, value: 12 });
  });

  it('parses the float forms of the format and nothing looser', () => {
    expect(parseSampleValue('1.5e3')).toEqual({ ok: true, value: 1500 });
    expect(parseSampleValue('.5')).toEqual({ ok: true, value: 0.5 });
    expect(parseSampleValue('1e308')).toEqual({ ok: true, value: 1e308 });
    expect(parseSampleValue('1e999').ok).toBe(false);
    for (const bad of ['', ' 1', '1_000', '0b1', 'Infinity', '1,5']) expect(parseSampleValue(bad).ok, bad).toBe(false);
  });
});

describe('the scanner on hostile bodies', () => {
  it('keeps no more than a line of the wanted metric, however long other lines are', () => {
    const s = new GaugeScanner('worker_active_sessions');
    const junk = new Uint8Array(8 * 1024 * 1024).fill(0x61); // 8 MiB without a newline
    s.push(junk);
    s.push('\nworker_active_sessions 3\n');
    expect(s.end()).toEqual({ ok: true, value: 3 });
  });

  it('refuses a sample line of the metric longer than the bound, instead of holding it', () => {
    const s = new GaugeScanner('worker_active_sessions');
    s.push(`worker_active_sessions{x="${'y'.repeat(MAX_SAMPLE_LINE_BYTES)}"} 1\n`);
    const r = s.end();
    expect(r.ok).toBe(false);
  });

  it('reads a labelled sample line of a few kilobytes, fed a byte at a time', () => {
    const s = new GaugeScanner('vllm:num_requests_running', 'sum');
    const line = new TextEncoder().encode(`vllm:num_requests_running{model_name="${'m'.repeat(3000)}"} 5\n`);
    for (let i = 0; i < line.length; i++) s.push(line.subarray(i, i + 1));
    expect(s.end()).toEqual({ ok: true, value: 5 });
  });

  it('reads UTF-8 label values split across chunks', () => {
    const bytes = new TextEncoder().encode('vllm:num_requests_running{model_name="modèle"} 2\n');
    const s = new GaugeScanner('vllm:num_requests_running', 'sum');
    s.push(bytes.subarray(0, 40));
    s.push(bytes.subarray(40));
    expect(s.end()).toEqual({ ok: true, value: 2 });
  });
});
