// `unmute-operator crd`: prints the UnmuteDeployment CRD as YAML (the same bytes as crds/).
import { stringify } from 'yaml';
import { z } from 'zod';
import { buildUnmuteDeploymentCrd } from '../../api/v1alpha1/crd.ts';
import { parseFlags } from '../flags.ts';

export async function run(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, { output: { type: 'string', short: 'o', default: 'yaml' }, help: { type: 'boolean', short: 'h' } },
    z.object({ output: z.enum(['yaml', 'json']), help: z.boolean().optional() }), 'crd');
  if (flags.help) {
    process.stdout.write('usage: unmute-operator crd [-o yaml|json]\n');
    return 0;
  }
  const crd = buildUnmuteDeploymentCrd();
  process.stdout.write(flags.output === 'json' ? JSON.stringify(crd, null, 2) + '\n' : stringify(crd, { lineWidth: 0 }));
  return 0;
}
