// moshi-server stand-ins for the STT and TTS pods of a full-mode cluster: a process inside the
// cluster's network namespace that serves, on each Running pod's IP and `http` container port,
// the fixture exporter of that component's metric families (asr_* for STT, py_* for TTS, with
// moshi-server's names: counters without _total). The backend pods get real sim-workers from
// `unmute-sim fleet`; the simulator has no STT/TTS server, and its source stays untouched.
//
// A pod named in the control file's `stopped` list has its exporter closed (its scrape fails: the
// way a test makes a target go down); removing it from the list brings it back.
//
// Usage: node test/support/component-exporters.ts <namespace> <control-file> <source>=<selector>...
//   e.g. ... voice /tmp/ctl.json stt=unmute.sh/fleet=demo,unmute.sh/component=stt tts=...
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { startUnmuteExporter, type FixtureExporter, type MetricSource } from './unmute-fixture-exporter.ts';

interface Pod extends KubeObject {
  spec: { containers: Array<{ ports?: Array<{ name?: string; containerPort: number }> }> };
  status?: { phase?: string; podIP?: string };
}

const Args = z.tuple([z.string().min(1), z.string().min(1)]).rest(z.string().regex(/^(stt|tts|backend|llm)=.+$/));
const [namespace, controlFile, ...specs] = Args.parse(process.argv.slice(2));
const sources = specs.map((s) => ({ source: s.slice(0, s.indexOf('=')) as MetricSource, selector: s.slice(s.indexOf('=') + 1) }));
const Control = z.object({ stopped: z.array(z.string()).default([]) });

function stoppedPods(): Set<string> {
  try {
    return new Set(Control.parse(JSON.parse(readFileSync(controlFile, 'utf8'))).stopped);
  } catch {
    return new Set();
  }
}

const kc = new KubeConfig();
kc.loadFromDefault();
const client = await KubeClient.fromKubeConfig(kc);
const running = new Map<string, { exporter: FixtureExporter; ip: string }>();
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => (stopping = true));

let first = true;
let salt = 10;
while (!stopping) {
  const stopped = stoppedPods();
  const wanted = new Map<string, { source: MetricSource; ip: string; port: number }>();
  for (const { source, selector } of sources) {
    const pods = await client.list<Pod>({ apiVersion: 'v1', kind: 'Pod' }, { namespace, labelSelector: selector }).catch(() => undefined);
    for (const p of pods?.items ?? []) {
      const ip = p.status?.podIP;
      const port = p.spec.containers[0]?.ports?.find((x) => x.name === 'http')?.containerPort;
      if (p.status?.phase !== 'Running' || ip === undefined || port === undefined || p.metadata.deletionTimestamp) continue;
      if (!stopped.has(p.metadata.name!)) wanted.set(p.metadata.name!, { source, ip, port });
    }
  }
  for (const [pod, r] of running) {
    const w = wanted.get(pod);
    if (w === undefined || w.ip !== r.ip) {
      await r.exporter.close();
      running.delete(pod);
      process.stdout.write(`closed ${pod}\n`);
    }
  }
  for (const [pod, w] of wanted) {
    if (running.has(pod)) continue;
    try {
      const exporter = await startUnmuteExporter(w.source, { salt: salt++, listen: { host: w.ip, port: w.port } });
      running.set(pod, { exporter, ip: w.ip });
      process.stdout.write(`serving ${pod} ${w.source} ${exporter.target}\n`);
    } catch (e) {
      process.stdout.write(`cannot serve ${pod} on ${w.ip}:${w.port}: ${(e as Error).message}\n`);
    }
  }
  if (first) {
    process.stdout.write('component-exporters ready\n');
    first = false;
  }
  await sleep(300);
}
await Promise.all([...running.values()].map((r) => r.exporter.close()));
await client.close();
process.exit(0);
