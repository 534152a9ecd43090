// The families a Python backend's default registry starts with, before any of Unmute's own: the
// `python_gc_*` and `python_info` collectors and the `process_*` collector of prometheus_client,
// with their names, HELP texts, labels and order. Dashboards and alerts written against a real
// backend (memory, CPU, restarts through process_start_time_seconds) then work on the simulator.
//
// The values come from this Node process, read as prometheus_client reads its own on Linux
// (/proc/self/stat, /proc/self/fd, /proc/self/limits): CPU in 1/100 s ticks, memory in bytes. Where
// a Python figure has no Node equivalent the nearest one stands in: collections per generation are
// V8's minor (0), incremental (1) and full (2) collections; objects collected are not counted by V8
// (0). Workers that share a process (the fleet runner) share these figures, except the start time,
// which is each worker's own (a pod's process starts with it).
import { readdirSync, readFileSync } from 'node:fs';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { familyHeader, sampleText } from './exposition.ts';

/** What `python_info` says: the Python of Unmute's image. */
const PYTHON = { implementation: 'CPython', major: '3', minor: '12', patchlevel: '1', version: '3.12.1' };
const TICKS_PER_SECOND = 100; // Linux USER_HZ, what prometheus_client divides /proc ticks by
const PAGE_BYTES = 4096;
/** Readings are shared by every worker of the process and refreshed at most this often. */
const CACHE_MS = 1000;

interface ProcessReading {
  virtualBytes: number;
  residentBytes: number;
  cpuSeconds: number;
  openFds: number;
  maxFds: number;
}

let cached: { at: number; value: ProcessReading } | undefined;

function readProcess(): ProcessReading {
  const now = Date.now();
  if (cached !== undefined && now - cached.at < CACHE_MS) return cached.value;
  const value = readProcStat() ?? fallbackReading();
  cached = { at: now, value };
  return value;
}

/** Linux: the figures prometheus_client's ProcessCollector reads. */
function readProcStat(): ProcessReading | undefined {
  try {
    // Fields after the command name (which may hold spaces): state is field 3 of stat(5).
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    const at = (statField: number): number => Number(fields[statField - 3]);
    const limits = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return {
      virtualBytes: at(23),
      residentBytes: at(24) * PAGE_BYTES,
      cpuSeconds: (at(14) + at(15)) / TICKS_PER_SECOND,
      openFds: readdirSync('/proc/self/fd').length,
      maxFds: limits === null ? 0 : Number(limits[1]),
    };
  } catch {
    return undefined;
  }
}

function fallbackReading(): ProcessReading {
  const cpu = process.cpuUsage();
  return { virtualBytes: 0, residentBytes: process.memoryUsage().rss, cpuSeconds: Math.floor((cpu.user + cpu.system) / 1e4) / 100, openFds: 0, maxFds: 0 };
}

/** V8 collections by Python generation, counted from the first worker's creation on. */
const collections = [0, 0, 0];
let gcObserver: PerformanceObserver | undefined;

/** Starts counting collections (once per process; a worker calls it when it is created). */
export function watchGc(): void {
  if (gcObserver !== undefined) return;
  gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) collections[0]!++;
      else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) collections[1]!++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) collections[2]!++;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
}

/** The python_* and process_* families, in the order of a Python process' default registry. */
export function renderRuntimeFamilies(startSeconds: number): string {
  const p = readProcess();
  const gen = (g: number): Record<string, string> => ({ generation: String(g) });
  let out = familyHeader('python_gc_objects_collected_total', 'Objects collected during gc', 'counter');
  for (const g of [0, 1, 2]) out += sampleText('python_gc_objects_collected_total', gen(g), 0);
  out += familyHeader('python_gc_objects_uncollectable_total', 'Uncollectable objects found during GC', 'counter');
  for (const g of [0, 1, 2]) out += sampleText('python_gc_objects_uncollectable_total', gen(g), 0);
  out += familyHeader('python_gc_collections_total', 'Number of times this generation was collected', 'counter');
  for (const g of [0, 1, 2]) out += sampleText('python_gc_collections_total', gen(g), collections[g]!);
  out += familyHeader('python_info', 'Python platform information', 'gauge');
  out += sampleText('python_info', PYTHON, 1);
  out += gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.', p.virtualBytes);
  out += gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', p.residentBytes);
  // Python derives it from the process' start in clock ticks: 1/100 s resolution.
  out += gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', Math.round(startSeconds * 100) / 100);
  // A counter without a `_created` sample, as the collector writes it.
  out += familyHeader('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter');
  out += sampleText('process_cpu_seconds_total', {}, p.cpuSeconds);
  out += gauge('process_open_fds', 'Number of open file descriptors.', p.openFds);
  out += gauge('process_max_fds', 'Maximum number of open file descriptors.', p.maxFds);
  return out;
}

function gauge(name: string, help: string, value: number): string {
  return familyHeader(name, help, 'gauge') + sampleText(name, {}, value);
}
