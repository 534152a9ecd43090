// The preStop hook of every component that drains (backends, STT, TTS, the in-cluster LLM): when
// something other than the autoscaler stops a pod (a rollout, `kubectl drain`, an eviction), the
// pod has already left its Service endpoints, so no new work arrives; the hook holds the container
// until its own load signal reads 0 (or the grace period ends), then the process gets SIGTERM.
//
// POSIX sh and awk, and the first of curl, wget or python3 the image has: moshi-server's image
// ships curl but no python3 on PATH, Unmute's backend image has both, busybox has wget. An
// unreachable or empty /metrics ends the wait (the process is gone or never held anything).
import type { AnyComponent } from '../api/v1alpha1/components.ts';

/** Seconds between two reads of /metrics in the wait loop. */
export const DRAIN_WAIT_POLL_SECONDS = 2;

/** The exec command that waits until `component`'s load metrics (all series, summed) read 0. */
export function drainWaitCommand(component: AnyComponent): string[] | undefined {
  const load = component.load;
  if (load === undefined || component.metricsPath === undefined) return undefined;
  const url = `http://127.0.0.1:${component.port}${component.metricsPath}`;
  const names = [load.metric, ...(load.plusMetric === undefined ? [] : [load.plusMetric])].join(' ');
  const script = [
    'fetch() {',
    '  curl -fsS --max-time 3 "$1" 2>/dev/null && return',
    '  wget -qO- -T 3 "$1" 2>/dev/null && return',
    `  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' "$1" 2>/dev/null`,
    '}',
    // Busy while any series of the named metrics is above 0; labels are dropped before splitting.
    'busy() {',
    `  awk -v names="${names}" 'BEGIN { n = split(names, m, " "); for (i = 1; i <= n; i++) want[m[i]] = 1 }`,
    '    { line = $0; sub(/\\{[^}]*\\}/, "", line); split(line, f, " "); if (f[1] in want) s += f[2] }',
    "    END { exit (s > 0) ? 0 : 1 }'",
    '}',
    `while fetch "${url}" | busy; do sleep ${DRAIN_WAIT_POLL_SECONDS}; done`,
  ].join('\n');
  return ['sh', '-c', script];
}
