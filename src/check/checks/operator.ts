// The operator: its CRD (and whether it is the one this binary generates), its Deployment, its Lease.
import { z } from 'zod';
import { crdVersionOf } from '../crd-hash.ts';
import { DOC } from '../docs.ts';
import { GROUP, PLURAL, VERSION } from '../fleet-facts.ts';
import { OPERATOR_SELECTOR } from '../operator-install.ts';
import type { CheckResult, Facts, OperatorInstall } from '../types.ts';

const group = 'operator' as const;
const CRD_NAME = `${PLURAL}.${GROUP}`;
const INSTALL_HINT = 'helm install unmute-operator ./helm/unmute-operator -n unmute-system --create-namespace';

export function crdCheck(f: Facts): CheckResult {
  const base = { group, id: 'operator.crd', title: `CRD ${CRD_NAME} matches this binary` };
  if (!f.crd.ok) return { ...base, status: 'warn', message: `cannot read the CRD: ${f.crd.error}` };
  if (f.crd.value === undefined) {
    return { ...base, status: 'fail', message: 'not installed', hint: `${INSTALL_HINT} (or: unmute-operator crd | kubectl apply --server-side -f -)`, doc: DOC.installOperator };
  }
  const established = z
    .looseObject({ status: z.looseObject({ conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).optional() }).optional() })
    .safeParse(f.crd.value);
  const isEstablished = established.success && (established.data.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
  const v = crdVersionOf(f.crd.value);
  if (v === undefined || !v.served) {
    return { ...base, status: 'fail', message: `installed, but does not serve ${VERSION}`, hint: 'apply the CRD of this release', doc: DOC.opsUpgrade };
  }
  if (!isEstablished) return { ...base, status: 'fail', message: 'installed, but not Established yet', hint: `kubectl describe crd ${CRD_NAME}` };
  if (v.hash !== f.binaryCrdSchemaHash) {
    return {
      ...base,
      status: 'fail',
      message: `installed schema ${v.hash ?? '(none)'} differs from this binary's ${f.binaryCrdSchemaHash}`,
      hint: 'apply the CRD of the operator version you run: kubectl apply --server-side --force-conflicts -f helm/unmute-operator/crds/',
      doc: DOC.opsUpgrade,
    };
  }
  return { ...base, status: 'pass', message: `${VERSION} served, schema ${v.hash}` };
}

function leaseResult(op: OperatorInstall, now: number): CheckResult {
  const base = { group, id: 'operator.leader', title: `Operator ${op.namespace}/${op.name} has a leader` };
  if (!op.leaderElection) {
    return op.desiredReplicas > 1
      ? { ...base, status: 'fail', message: `${op.desiredReplicas} replicas without leader election`, hint: 'enable leaderElection.enabled or run one replica', doc: DOC.installOperator }
      : { ...base, status: 'pass', message: 'leader election off, one replica' };
  }
  const where = `Lease ${op.namespace}/${op.leaseName}`;
  if (op.lease === undefined || !op.lease.ok) return { ...base, status: 'warn', message: `cannot read ${where}: ${op.lease?.error ?? 'not read'}` };
  if (op.lease.value === undefined) {
    return { ...base, status: 'fail', message: `${where} does not exist: no replica has ever led`, hint: `kubectl -n ${op.namespace} logs deploy/${op.name}`, doc: DOC.installOperator };
  }
  const spec = z
    .looseObject({ holderIdentity: z.string().nullish(), renewTime: z.string().nullish(), leaseDurationSeconds: z.number().nullish() })
    .safeParse(op.lease.value['spec'] ?? {});
  const holder = spec.success ? spec.data.holderIdentity : undefined;
  const renewed = spec.success && spec.data.renewTime ? Date.parse(spec.data.renewTime) : NaN;
  const duration = (spec.success ? spec.data.leaseDurationSeconds : undefined) ?? 15;
  if (!holder) return { ...base, status: 'fail', message: `${where} is released: no leader`, hint: `kubectl -n ${op.namespace} logs deploy/${op.name}` };
  const age = Math.round((now - renewed) / 1000);
  if (Number.isNaN(renewed) || age > duration) {
    return {
      ...base,
      status: 'fail',
      message: `${where} held by ${holder} but not renewed for ${Number.isNaN(age) ? '?' : age} s (lease ${duration} s)`,
      hint: `the leader is stuck or gone: kubectl -n ${op.namespace} get pods,events`,
    };
  }
  return { ...base, status: 'pass', message: `${holder} leads (${where}, renewed ${Math.max(0, age)} s ago)` };
}

export function operatorChecks(f: Facts): CheckResult[] {
  const out: CheckResult[] = [crdCheck(f)];
  const base = { group, id: 'operator.running', title: 'Operator installed and running' };
  if (!f.operators.ok) {
    out.push({ ...base, status: 'warn', message: `cannot list Deployments: ${f.operators.error}`, hint: 'run check with rights to read Deployments, or pass --operator-namespace' });
    return out;
  }
  if (f.operators.value.length === 0) {
    out.push({ ...base, status: 'fail', message: `no Deployment labelled ${OPERATOR_SELECTOR}`, hint: INSTALL_HINT, doc: DOC.installOperator });
    return out;
  }
  if (f.operators.value.length > 1) {
    const names = f.operators.value.map((o) => `${o.namespace}/${o.name}`);
    out.push({ ...base, id: 'operator.single', status: 'warn', message: `${names.length} operator installations: ${names.join(', ')}`, hint: 'two operators watching the same namespace fight over the fleets; keep one, or use namespaced mode', doc: DOC.opsNamespaced });
  }
  for (const op of f.operators.value) {
    const name = `${op.namespace}/${op.name}`;
    const scope = op.watchNamespace === undefined ? 'all namespaces' : `namespace ${op.watchNamespace}`;
    if (op.readyReplicas === 0) {
      out.push({ ...base, status: 'fail', message: `${name}: 0 of ${op.desiredReplicas} replicas ready`, hint: `kubectl -n ${op.namespace} describe deploy/${op.name}; kubectl -n ${op.namespace} logs deploy/${op.name}` });
    } else if (op.readyReplicas < op.desiredReplicas) {
      out.push({ ...base, status: 'warn', message: `${name}: ${op.readyReplicas} of ${op.desiredReplicas} replicas ready (watches ${scope})`, hint: `kubectl -n ${op.namespace} get pods` });
    } else {
      out.push({ ...base, status: 'pass', message: `${name}: ${op.readyReplicas}/${op.desiredReplicas} ready, watches ${scope}` });
    }
    out.push(leaseResult(op, f.now));
  }
  return out;
}
