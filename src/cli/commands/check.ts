// `unmute-operator check`: read-only preflight of the cluster (and, with -f, of an UnmuteDeployment
// before it is applied). Exit 0 when nothing failed, 1 otherwise, 2 on a usage error.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { fleetsFromYaml } from '../../check/fleets.ts';
import { exitCode, renderJson, renderText } from '../../check/report.ts';
import { checkCluster } from '../../check/run.ts';
import { KubeClient } from '../../runtime/kube-client.ts';
import { UndiciTransport } from '../../runtime/kube-transport.ts';
import { CliError } from '../errors.ts';
import { parseFlags } from '../flags.ts';

const USAGE = `usage: unmute-operator check [-n NAMESPACE] [-f FILE|-] [-o text|json] [flags]

Read-only checks of the current cluster for running Unmute: Kubernetes version and features, the
operator (CRD, Deployment, leader, RBAC), GPU nodes, Prometheus and Grafana, the gateway, and every
UnmuteDeployment in scope. Only get, list and access reviews: nothing in the cluster changes.

  -f, --filename FILE        check the UnmuteDeployment(s) in FILE (- for stdin) before applying them
  -n, --namespace NS         namespace of the fleets to check (default: the file's, else every namespace)
  -o, --output text|json     report format (default text)
      --kubeconfig PATH      kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
      --operator-namespace NS  where the operator is installed (default: found by its labels anywhere)
      --request-timeout S    deadline of each API request in seconds (default 10)

Exit status: 0 when no check failed (warnings allowed), 1 when one did, 2 on a usage error.`;

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name').max(63);

const flagsSchema = z.object({
  filename: z.string().min(1).optional(),
  namespace: dnsLabel.optional(),
  output: z.enum(['text', 'json']).default('text'),
  kubeconfig: z.string().min(1).optional(),
  'operator-namespace': dnsLabel.optional(),
  'request-timeout': z.coerce.number().positive().max(300).default(10),
});

const envSchema = z.object({ KUBECONFIG: z.string().min(1).optional(), NO_COLOR: z.string().optional() });

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const flags = parseFlags(
    argv,
    {
      filename: { type: 'string', short: 'f' },
      namespace: { type: 'string', short: 'n' },
      output: { type: 'string', short: 'o' },
      kubeconfig: { type: 'string' },
      'operator-namespace': { type: 'string' },
      'request-timeout': { type: 'string' },
    },
    flagsSchema,
    'check',
  );
  const env = envSchema.parse(process.env);
  const kubeConfig = new KubeConfig();
  try {
    const path = flags.kubeconfig ?? env.KUBECONFIG;
    if (path !== undefined) kubeConfig.loadFromFile(path);
    else kubeConfig.loadFromDefault();
  } catch (err) {
    throw new CliError(`check: cannot load the kubeconfig: ${(err as Error).message}`);
  }
  if (kubeConfig.getCurrentCluster() === null) throw new CliError('check: the kubeconfig has no current cluster');
  const contextNamespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;

  let fromFile: ReturnType<typeof fleetsFromYaml> | undefined;
  if (flags.filename !== undefined) {
    const text = flags.filename === '-' ? readFileSync(0, 'utf8') : readFile(flags.filename);
    fromFile = fleetsFromYaml(text, flags.filename === '-' ? 'stdin' : flags.filename, flags.namespace ?? contextNamespace ?? 'default');
  }

  const transport = await UndiciTransport.fromKubeConfig(kubeConfig, { userAgent: 'unmute-operator-check' });
  const client = new KubeClient(transport, { requestTimeoutMs: flags['request-timeout'] * 1000 });
  try {
    const results = await checkCluster(client, {
      ...(fromFile === undefined ? {} : { fromFile }),
      namespace: flags.namespace,
      operatorNamespace: flags['operator-namespace'],
      now: Date.now(),
    });
    const color = process.stdout.isTTY === true && env.NO_COLOR === undefined;
    process.stdout.write(flags.output === 'json' ? renderJson(results) : renderText(results, { color }));
    return exitCode(results);
  } finally {
    await client.close();
  }
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`check: cannot read ${path}: ${(err as Error).message}`);
  }
}
