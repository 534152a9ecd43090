// `unmute-operator render -f cr.yaml`: every object the operator would create, offline, like
// `helm template`. Cluster facts that would be discovered at run time are flags here.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { z } from 'zod';
import { parseUnmuteDeployment, staticProblems } from '../../controller/validate.ts';
import { initialReplicas } from '../../autoscaler/plan.ts';
import { renderFleet } from '../../render/index.ts';
import { CliError } from '../errors.ts';
import { parseFlags } from '../flags.ts';

const flagsSchema = z.object({
  filename: z.string({ error: 'is required (a YAML file with one or more UnmuteDeployments, or - for stdin)' }).min(1),
  'no-prometheus-operator': z.boolean().default(false),
  'no-gateway-api': z.boolean().default(false),
  'no-httproute-timeouts': z.boolean().default(false),
  'grafana-operator': z.boolean().default(false),
  output: z.enum(['yaml', 'json']).default('yaml'),
  help: z.boolean().optional(),
});

const USAGE = `usage: unmute-operator render -f <file|-> [-o yaml|json] [--no-prometheus-operator] [--no-gateway-api] [--no-httproute-timeouts] [--grafana-operator]`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const flags = parseFlags(
    argv,
    {
      filename: { type: 'string', short: 'f' },
      'no-prometheus-operator': { type: 'boolean' },
      'no-gateway-api': { type: 'boolean' },
      // The HTTPRoute CRD is older than Gateway API v1.2: its rules have no timeouts field.
      'no-httproute-timeouts': { type: 'boolean' },
      'grafana-operator': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
    flagsSchema,
    'render',
  );
  const text = flags.filename === '-' ? readFileSync(0, 'utf8') : readFile(flags.filename);
  const docs = parseAllDocuments(text);
  const objects: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) throw new CliError(`render: document ${i + 1}: ${doc.errors[0]!.message}`);
    const raw = doc.toJS() as { metadata?: { namespace?: string; uid?: string } } | null;
    if (raw === null) continue;
    // Offline there is no namespace defaulting and no uid: fill both so the output is applyable.
    const withDefaults = { ...raw, metadata: { namespace: 'default', uid: '00000000-0000-0000-0000-000000000000', ...raw.metadata } };
    const parsed = parseUnmuteDeployment(withDefaults);
    if (!parsed.ok) throw new CliError(`render: document ${i + 1} is not a valid UnmuteDeployment:\n  ${parsed.problems.join('\n  ')}`);
    const problems = staticProblems(parsed.fleet);
    if (problems.length > 0) throw new CliError(`render: document ${i + 1}: ${problems.join('; ')}`);
    objects.push(
      ...renderFleet(parsed.fleet, {
        capabilities: {
          prometheusOperator: !flags['no-prometheus-operator'],
          gatewayApi: !flags['no-gateway-api'],
          httpRouteTimeouts: !flags['no-gateway-api'] && !flags['no-httproute-timeouts'],
          grafanaOperator: flags['grafana-operator'],
          // The chart lets the operator read Nodes.
          nodeDrains: true,
        },
        replicas: initialReplicas(parsed.fleet),
      }),
    );
  }
  if (flags.output === 'json') process.stdout.write(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2) + '\n');
  else process.stdout.write(objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
  return 0;
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`render: cannot read ${path}: ${(err as Error).message}`);
  }
}
