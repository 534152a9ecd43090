// `unmute-sim fleet`: the pod runner as a process (plus, optionally, a control socket to hold
// sessions through the backend Service). Run it inside the cluster's network namespace, e.g.
//   ip netns exec unmute-<cluster> node bin/unmute-sim.js fleet --namespace demo \
//     --selector app.kubernetes.io/instance=demo,app.kubernetes.io/component=backend \
//     --service demo-backend --control-socket /tmp/demo-fleet.sock
// Runs until SIGTERM/SIGINT or --duration, then stops every worker (pods are left as they are).
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { parseFlags } from '../../cli/flags.ts';
import { createLogger } from '../../observability/logger.ts';
import { KubeClient } from '../../runtime/kube-client.ts';
import { FleetControl } from '../fleet/control.ts';
import { pipelineProcess, SliceResolver } from '../fleet/pipeline.ts';
import { startPodRunner } from '../fleet/pod-runner.ts';
import { CHEAP_SESSION, CHEAP_WORKER, ServiceEndpoints } from '../fleet/scenario.ts';
import { staticTargets } from '../loadgen/targets.ts';
import { boolFlag, helpRequested, intFlag } from './flag-types.ts';

const HELP = `usage: unmute-sim fleet --namespace NS --selector SEL [flags]

Plays the pods of a simulated Unmute fleet: a sim-worker on each running pod's IP and port; on
deletion the preStop wait (if the pod has one), then SIGTERM (live sessions closed with 1012),
then the pod deleted with grace 0 (cluster podDeletion 'external'). Run it inside the cluster's
network namespace.

  --kubeconfig PATH        kubeconfig valid inside the netns (default $KUBECONFIG)
  --namespace NS           namespace of the pods
  --selector SEL           label selector of the backend pods
  --services-selector SEL  label selector of the fleet's STT, TTS and vLLM pods, played as simulated
                           moshi-server and vLLM (the whole pipeline); without it, backends whose
                           env names no STT/TTS/LLM simulate them in-process
  --service NAME           backend Service: enables opening sessions through the control socket,
                           sent to its ready endpoints (from its EndpointSlices, as kube-proxy)
  --target-url URL         send those sessions to this URL instead, e.g. a gateway's
                           http://10.250.253.30/api (the Service's endpoints still show in the state)
  --control-socket PATH    serve the control API on this unix socket
  --strategy S             how sessions opened there pick a backend: round-robin (kube-proxy-like,
                           default) or least-connections
  --max-sessions N         sessions per worker before queueing (default 4)
  --cheap BOOL             no audio frames (default true): light on CPU
  --duration SECONDS       stop by itself after this long (default 3600)
  --log-level LEVEL        info|debug|warn|error (default info)
`;

const schema = z.object({
  kubeconfig: z.string().optional(),
  namespace: z.string().min(1),
  selector: z.string().min(1),
  'services-selector': z.string().min(1).optional(),
  service: z.string().min(1).optional(),
  'target-url': z.url({ protocol: /^(https?|wss?)$/ }).optional(),
  'control-socket': z.string().min(1).optional(),
  strategy: z.enum(['round-robin', 'least-connections']).default('round-robin'),
  'max-sessions': intFlag(1, 64).default(4),
  cheap: boolFlag().default(true),
  duration: intFlag(1, 86_400).default(3600),
  'log-level': z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export async function run(argv: string[]): Promise<number> {
  if (helpRequested(argv)) {
    process.stdout.write(HELP);
    return 0;
  }
  const f = parseFlags(
    argv,
    {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      selector: { type: 'string' },
      'services-selector': { type: 'string' },
      service: { type: 'string' },
      'target-url': { type: 'string' },
      'control-socket': { type: 'string' },
      strategy: { type: 'string' },
      'max-sessions': { type: 'string' },
      cheap: { type: 'string' },
      duration: { type: 'string' },
      'log-level': { type: 'string' },
    },
    schema,
    'fleet',
  );
  const logger = createLogger({ level: f['log-level'], base: { component: 'sim-fleet' } });
  const kc = new KubeConfig();
  const kubeconfig = f.kubeconfig ?? process.env['KUBECONFIG'];
  if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  const client = await KubeClient.fromKubeConfig(kc);

  const worker = f.cheap ? { ...CHEAP_WORKER, maxSessions: f['max-sessions'] } : { maxSessions: f['max-sessions'] };
  // Backends find STT/TTS/LLM pods by the Services in their env, through the EndpointSlices.
  const resolver = await new SliceResolver(client, f.namespace, logger).start();
  const runner = await startPodRunner({
    client,
    namespace: f.namespace,
    labelSelector: f.selector,
    worker,
    processFor: pipelineProcess({ resolver: resolver.resolve, worker, remote: f['services-selector'] !== undefined }),
    logger,
    onEvent: (e) => logger.info(e, `pod ${e.type}`),
  });
  const services =
    f['services-selector'] === undefined
      ? undefined
      : await startPodRunner({ client, namespace: f.namespace, labelSelector: f['services-selector'], processFor: pipelineProcess({ resolver: resolver.resolve, worker, remote: true }), logger, onEvent: (e) => logger.info(e, `pod ${e.type}`) });
  const endpoints = f.service === undefined ? undefined : await new ServiceEndpoints(client, f.namespace, f.service, { strategy: f.strategy }).start();
  // A fixed target (a gateway) takes the sessions; the Service's endpoints are still watched for the state.
  const picker = f['target-url'] !== undefined ? staticTargets([f['target-url']]) : endpoints?.pool;
  const control =
    f['control-socket'] === undefined
      ? undefined
      : await new FleetControl({
          socketPath: f['control-socket'],
          runner,
          ...(services ? { services } : {}),
          ...(picker ? { picker } : {}),
          ...(endpoints ? { endpoints: () => endpoints.pool.targets() } : {}),
          session: f.cheap ? CHEAP_SESSION : {},
        }).listen();
  logger.info({ namespace: f.namespace, selector: f.selector, service: f.service, target: f['target-url'], socket: f['control-socket'] }, 'sim-fleet ready');

  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, f.duration * 1000);
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await control?.close();
  endpoints?.stop();
  await runner.stop();
  await services?.stop();
  resolver.stop();
  logger.info(runner.totals, 'sim-fleet stopped');
  return 0;
}
