// The plot of a `bench:fleet --peers` run: the trace's sessions, the ideal pods for them, and the
// pods each side had (every pod that exists: starting, serving, draining, Terminating) over time,
// so a reader sees where each side spends its pods. A Vega-Lite spec rendered headless to SVG
// (vega's View.toSVG needs no canvas); when vega and vega-lite are not installed, a plain SVG line
// chart of the same rows, so a run never fails for want of a plot.
//
//   node bench/plot.ts DATA.json OUT.svg    re-renders a run's plot from the data it wrote next to it
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** One point of one series: wall seconds from the trace's start. */
export interface PlotRow {
  t: number;
  value: number;
  series: string;
}

export const plotRowsSchema = z.array(z.object({ t: z.number(), value: z.number(), series: z.string() }));

/**
 * Step samples (value held until the next sample) read at every `stepS` from 0 to `endS`: the
 * last sample at or before each instant, so the rows show what the fleet had, not an average.
 */
export function resample(samples: ReadonlyArray<{ tS: number; value: number }>, stepS: number, endS: number): Array<{ t: number; value: number }> {
  const sorted = [...samples].sort((a, b) => a.tS - b.tS);
  const out: Array<{ t: number; value: number }> = [];
  let i = 0;
  for (let k = 0; k * stepS <= endS + 1e-9; k++) {
    const t = Math.round(k * stepS * 1000) / 1000;
    while (i + 1 < sorted.length && sorted[i + 1]!.tS <= t) i++;
    if (sorted.length === 0 || sorted[0]!.tS > t) continue;
    out.push({ t, value: sorted[i]!.value });
  }
  return out;
}

/** The rows of a plot: the trace's sessions, the ideal pods, and the pods of each side. */
export function plotRows(input: {
  /** Sessions the trace holds at each instant (the same for every side). */
  sessions: ReadonlyArray<{ tS: number; value: number }>;
  idealPods: (sessions: number) => number;
  pods: Record<string, ReadonlyArray<{ tS: number; value: number }>>;
  stepS: number;
  endS: number;
}): PlotRow[] {
  const sessions = resample(input.sessions, input.stepS, input.endS);
  const rows: PlotRow[] = [...sessions.map((p) => ({ ...p, series: 'sessions (trace)' })), ...sessions.map((p) => ({ t: p.t, value: input.idealPods(p.value), series: 'ideal pods' }))];
  for (const [side, samples] of Object.entries(input.pods)) rows.push(...resample(samples, input.stepS, input.endS).map((p) => ({ ...p, series: `pods: ${side}` })));
  return rows;
}

const LEGEND = { orient: 'top', columns: 3 } as const;

/** A Vega-Lite spec: one line per series, the trace dashed, steps as they were sampled. */
export function plotSpec(rows: readonly PlotRow[], title: string): Record<string, unknown> {
  const series = [...new Set(rows.map((r) => r.series))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 760,
    height: 320,
    background: 'white',
    data: { values: rows },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.6 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'wall seconds from the trace start (×10 = fleet seconds)' },
      y: { field: 'value', type: 'quantitative', title: 'sessions / pods' },
      // One legend for both channels (same field, same legend): each series' colour and dash.
      color: { field: 'series', type: 'nominal', sort: series, title: null, legend: LEGEND },
      strokeDash: {
        field: 'series',
        type: 'nominal',
        sort: series,
        title: null,
        legend: LEGEND,
        scale: { domain: series, range: series.map((s) => (s === 'sessions (trace)' ? [2, 2] : s === 'ideal pods' ? [6, 3] : [1, 0])) },
      },
    },
  };
}

/** Renders a Vega-Lite spec to SVG with vega and vega-lite, or undefined when they are not installed. */
export async function renderVegaLite(spec: Record<string, unknown>): Promise<string | undefined> {
  // Module names held in variables: the type checker does not require the optional packages.
  const vegaName = 'vega';
  const vlName = 'vega-lite';
  let vega: { View: new (runtime: unknown, opts: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void }; parse(spec: unknown): unknown };
  let vl: { compile(spec: unknown): { spec: unknown } };
  try {
    vega = (await import(vegaName)) as typeof vega;
    vl = (await import(vlName)) as typeof vl;
  } catch {
    return undefined;
  }
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2'];
const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The same chart without a plotting library: step lines, axes with round ticks, a legend. */
export function handSvg(rows: readonly PlotRow[], title: string): string {
  const W = 860;
  const H = 420;
  const m = { left: 50, right: 20, top: 70, bottom: 40 };
  const series = [...new Set(rows.map((r) => r.series))];
  const maxT = Math.max(1, ...rows.map((r) => r.t));
  const maxV = Math.max(1, ...rows.map((r) => r.value));
  const x = (t: number) => m.left + (t / maxT) * (W - m.left - m.right);
  const y = (v: number) => H - m.bottom - (v / maxV) * (H - m.top - m.bottom);
  const tick = (max: number) => [1, 2, 5, 10, 20, 50, 100, 200].find((s) => max / s <= 10) ?? Math.ceil(max / 10);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>`];
  parts.push(`<text x="${m.left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`);
  for (let v = 0; v <= maxV; v += tick(maxV)) parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${m.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  for (let t = 0; t <= maxT; t += tick(maxT)) parts.push(`<text x="${x(t)}" y="${H - m.bottom + 16}" text-anchor="middle">${t}</text>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 6}" text-anchor="middle">wall seconds from the trace start (×10 = fleet seconds)</text>`);
  series.forEach((s, i) => {
    const pts = rows.filter((r) => r.series === s).sort((a, b) => a.t - b.t);
    const d = pts.map((p, k) => (k === 0 ? `M${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}` : `H${x(p.t).toFixed(1)}V${y(p.value).toFixed(1)}`)).join('');
    const dash = s === 'sessions (trace)' ? ' stroke-dasharray="2 2"' : s === 'ideal pods' ? ' stroke-dasharray="6 3"' : '';
    const color = PALETTE[i % PALETTE.length]!;
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${dash}/>`);
    const lx = m.left + (i % 4) * 190;
    const ly = 36 + Math.floor(i / 4) * 16;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/><text x="${lx + 22}" y="${ly}">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Writes the plot (Vega-Lite when installed, else the plain chart) and its rows next to it (PATH.json). */
export async function writePlot(path: string, rows: readonly PlotRow[], title: string): Promise<{ renderer: 'vega-lite' | 'plain' }> {
  writeFileSync(`${path}.json`, JSON.stringify({ title, rows }) + '\n');
  const svg = await renderVegaLite(plotSpec(rows, title));
  writeFileSync(path, svg ?? handSvg(rows, title));
  return { renderer: svg === undefined ? 'plain' : 'vega-lite' };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [data, out] = process.argv.slice(2);
  if (data === undefined || out === undefined) {
    process.stderr.write('usage: node bench/plot.ts DATA.json OUT.svg\n');
    process.exit(2);
  }
  const parsed = z.object({ title: z.string(), rows: plotRowsSchema }).parse(JSON.parse(readFileSync(data, 'utf8')));
  const r = await writePlot(out, parsed.rows, parsed.title);
  process.stderr.write(`plot: ${out} (${r.renderer})\n`);
}
