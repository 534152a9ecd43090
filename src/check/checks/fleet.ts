// One UnmuteDeployment's own needs: a valid spec, its namespace, the Secrets and volume claims it
// names, images that exist somewhere, and an operator that watches its namespace.
import { z } from 'zod';
import { DOC } from '../docs.ts';
import { staticProblems } from '../fleet-facts.ts';
import { fleetReferences, renderedObjects } from '../fleets.ts';
import { key, type CheckResult, type Facts, type FleetInput } from '../types.ts';

const group = 'fleet' as const;

/** Image references copied from the examples, which point at no real registry. */
const PLACEHOLDER_REGISTRIES = [/^registry\.example\.com\//, /^example\.com\//, /\.example\.com\//, /\.invalid\//];

function schemaCheck(fleet: FleetInput, fleetName: string): CheckResult {
  const base = { group, id: 'fleet.schema', title: `${fleetName} is a valid UnmuteDeployment`, fleet: fleetName, doc: DOC.writeCr };
  if (!fleet.parsed.ok) {
    return { ...base, status: 'fail', message: `${fleet.parsed.problems.length} schema problem(s) in ${fleet.source}: ${fleet.parsed.problems[0]}`, hint: 'kubectl explain unmutedeployment.spec --recursive shows every field', details: fleet.parsed.problems };
  }
  const problems = staticProblems(fleet.parsed.fleet);
  if (problems.length > 0) return { ...base, status: 'fail', message: problems[0]!, details: problems };
  return { ...base, status: 'pass', message: `parsed (${fleet.source})` };
}

function namespaceCheck(f: Facts, fleet: FleetInput, fleetName: string): CheckResult | undefined {
  const ns = f.namespaces[fleet.namespace];
  if (ns === undefined || !ns.ok || ns.value !== undefined) return undefined;
  return { group, id: 'fleet.namespace', title: `Namespace of ${fleetName}`, fleet: fleetName, status: 'fail', message: `namespace ${fleet.namespace} does not exist`, hint: `kubectl create namespace ${fleet.namespace}`, doc: DOC.secrets };
}

function secretsCheck(f: Facts, fleet: FleetInput, fleetName: string): CheckResult | undefined {
  if (!fleet.parsed.ok) return undefined;
  const needs = fleetReferences(fleet.parsed.fleet).secrets;
  const base = { group, id: 'fleet.secrets', title: `Secrets referenced by ${fleetName} exist`, fleet: fleetName, doc: DOC.secrets };
  if (needs.length === 0) return { ...base, status: 'pass', message: 'the CR references no Secret' };
  const missing: string[] = [];
  const unreadable: string[] = [];
  for (const need of needs) {
    const secret = f.secrets[key(fleet.namespace, need.name)];
    if (secret === undefined || !secret.ok) unreadable.push(`${need.field}: Secret ${need.name}: ${secret && !secret.ok ? secret.error : 'not read'}`);
    else if (secret.value === undefined) missing.push(`${need.field}: Secret ${need.name} not found in namespace ${fleet.namespace}`);
    else if (need.key !== undefined && !secret.value.keys.includes(need.key)) missing.push(`${need.field}: Secret ${need.name} has no key ${need.key}`);
  }
  if (missing.length > 0) {
    const first = needs.find((n) => missing[0]!.startsWith(`${n.field}:`))!;
    return {
      ...base,
      status: 'fail',
      message: missing[0]!,
      hint: `kubectl -n ${fleet.namespace} create secret generic ${first.name} --from-literal=${first.key ?? 'key'}=...`,
      details: missing,
    };
  }
  if (unreadable.length > 0) return { ...base, status: 'warn', message: `cannot read ${unreadable.length} Secret(s): ${unreadable[0]}`, details: unreadable };
  return { ...base, status: 'pass', message: `${new Set(needs.map((n) => n.name)).size} Secret(s) present with the keys asked for` };
}

const pvcSchema = z.looseObject({
  spec: z.looseObject({ accessModes: z.array(z.string()).optional() }).optional(),
  status: z.looseObject({ phase: z.string().optional() }).optional(),
});

function claimsCheck(f: Facts, fleet: FleetInput, fleetName: string): CheckResult | undefined {
  if (!fleet.parsed.ok) return undefined;
  const claims = fleetReferences(fleet.parsed.fleet).claims;
  if (claims.length === 0) return undefined;
  const base = { group, id: 'fleet.volumes', title: `Model cache claims of ${fleetName}`, fleet: fleetName, doc: DOC.secrets };
  // Pods that will mount each claim: a ReadWriteOnce claim shared by pods on several nodes blocks all but one node.
  const users = new Map<string, number>();
  for (const o of renderedObjects(fleet.parsed.fleet)) {
    if (o.kind !== 'Deployment') continue;
    const spec = o['spec'] as { replicas?: number; template: { spec: { volumes?: { persistentVolumeClaim?: { claimName: string } }[] } } };
    for (const v of spec.template.spec.volumes ?? []) {
      const c = v.persistentVolumeClaim?.claimName;
      if (c !== undefined) users.set(c, (users.get(c) ?? 0) + (spec.replicas ?? 1));
    }
  }
  const fails: string[] = [];
  const warns: string[] = [];
  for (const claim of new Map(claims.map((c) => [c.name, c])).values()) {
    const pvc = f.persistentVolumeClaims[key(fleet.namespace, claim.name)];
    if (pvc === undefined || !pvc.ok) warns.push(`${claim.field}: cannot read PersistentVolumeClaim ${claim.name}`);
    else if (pvc.value === undefined) fails.push(`${claim.field}: PersistentVolumeClaim ${claim.name} not found in namespace ${fleet.namespace}`);
    else {
      const p = pvcSchema.safeParse(pvc.value);
      const modes = p.success ? (p.data.spec?.accessModes ?? []) : [];
      const phase = p.success ? p.data.status?.phase : undefined;
      if ((users.get(claim.name) ?? 0) > 1 && !modes.includes('ReadWriteMany')) {
        warns.push(`PersistentVolumeClaim ${claim.name} (${modes.join(', ') || 'no access mode'}) is shared by ${users.get(claim.name)} pods: without ReadWriteMany they must all land on one node`);
      }
      if (phase !== undefined && phase !== 'Bound' && phase !== 'Pending') warns.push(`PersistentVolumeClaim ${claim.name} is ${phase}`);
    }
  }
  if (fails.length > 0) return { ...base, status: 'fail', message: fails[0]!, hint: 'create the claim (ReadWriteMany when several pods share it) or switch to modelCache.emptyDir', details: [...fails, ...warns] };
  if (warns.length > 0) return { ...base, status: 'warn', message: warns[0]!, details: warns };
  return { ...base, status: 'pass', message: `${users.size} claim(s) present` };
}

/** Unmute's moshi-server image logs in to Hugging Face at start and stops when it has no token. */
function hfTokenCheck(fleet: FleetInput, fleetName: string): CheckResult | undefined {
  if (!fleet.parsed.ok) return undefined;
  const { spec } = fleet.parsed.fleet;
  const tiers = { stt: spec.stt, tts: spec.tts, voiceCloning: spec.voiceCloning?.enabled ? spec.voiceCloning : undefined };
  const without = Object.entries(tiers)
    .filter(([, t]) => t !== undefined && t.hfTokenSecretRef === undefined && !(t.env ?? []).some((e) => e.name === 'HUGGING_FACE_HUB_TOKEN'))
    .map(([name]) => `spec.${name}`);
  if (without.length === 0) return undefined;
  return {
    group,
    id: 'fleet.hf-token',
    title: `moshi-server tiers of ${fleetName} have a Hugging Face token`,
    fleet: fleetName,
    status: 'warn',
    message: `${without.join(', ')} set no hfTokenSecretRef: Unmute's moshi-server image needs HUGGING_FACE_HUB_TOKEN to start`,
    hint: 'add hfTokenSecretRef: { name: hf-token, key: token } (a read-only token), unless your image does without',
    doc: DOC.images,
  };
}

function imagesCheck(fleet: FleetInput, fleetName: string): CheckResult | undefined {
  if (!fleet.parsed.ok) return undefined;
  const images = new Set<string>();
  for (const o of renderedObjects(fleet.parsed.fleet)) {
    if (o.kind !== 'Deployment') continue;
    for (const c of (o['spec'] as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers) images.add(c.image);
  }
  const placeholders = [...images].filter((i) => PLACEHOLDER_REGISTRIES.some((r) => r.test(i)));
  const base = { group, id: 'fleet.images', title: `Images of ${fleetName} are real`, fleet: fleetName, doc: DOC.images };
  if (placeholders.length > 0) {
    return {
      ...base,
      status: 'fail',
      message: `placeholder image${placeholders.length === 1 ? '' : 's'} from the examples: ${placeholders.join(', ')}`,
      hint: 'Unmute publishes no images: build backend, frontend and moshi-server from kyutai-labs/unmute and push them to your registry',
    };
  }
  return { ...base, status: 'pass', message: [...images].sort().join(', ') };
}

function canApplyCheck(f: Facts, fleet: FleetInput, fleetName: string): CheckResult | undefined {
  const answer = f.canApply[fleet.namespace];
  if (answer === undefined) return undefined;
  const base = { group, id: 'fleet.can-apply', title: `You may create ${fleetName}`, fleet: fleetName };
  if (!answer.ok) return { ...base, status: 'warn', message: `cannot ask the authorizer: ${answer.error}` };
  return answer.value
    ? { ...base, status: 'pass', message: `create unmutedeployments.unmute.sh in ${fleet.namespace} is allowed` }
    : {
        ...base,
        status: 'fail',
        message: `your user may not create unmutedeployments.unmute.sh in ${fleet.namespace}`,
        hint: 'the chart aggregates UnmuteDeployment rights into the admin and edit roles: get one of them in this namespace',
        doc: DOC.opsRbac,
      };
}

function scopeCheck(f: Facts, fleet: FleetInput, fleetName: string): CheckResult | undefined {
  if (!f.operators.ok || f.operators.value.length === 0) return undefined;
  const watching = f.operators.value.filter((o) => o.watchNamespace === undefined || o.watchNamespace === fleet.namespace);
  if (watching.length > 0) return undefined;
  return {
    group,
    id: 'fleet.watched',
    title: `An operator watches namespace ${fleet.namespace}`,
    fleet: fleetName,
    status: 'fail',
    message: `operators watch only ${f.operators.value.map((o) => o.watchNamespace).join(', ')}: nobody reconciles ${fleetName}`,
    hint: 'install a release for this namespace (watchNamespaces) or a cluster-wide one',
    doc: DOC.opsNamespaced,
  };
}

export const fleetSchemaCheck = (fleet: FleetInput): CheckResult => schemaCheck(fleet, `${fleet.namespace}/${fleet.name}`);

export function fleetChecks(f: Facts, fleet: FleetInput): CheckResult[] {
  const fleetName = `${fleet.namespace}/${fleet.name}`;
  const out: (CheckResult | undefined)[] = [
    schemaCheck(fleet, fleetName),
    namespaceCheck(f, fleet, fleetName),
    scopeCheck(f, fleet, fleetName),
    canApplyCheck(f, fleet, fleetName),
    imagesCheck(fleet, fleetName),
    hfTokenCheck(fleet, fleetName),
    secretsCheck(f, fleet, fleetName),
    claimsCheck(f, fleet, fleetName),
  ];
  return out.filter((r): r is CheckResult => r !== undefined);
}
