// What the operator's ServiceAccount may do, as answered by the API server's authorizer.
import { DOC } from '../docs.ts';
import type { AccessAnswer, CheckResult, Facts } from '../types.ts';

const describe = (a: AccessAnswer) =>
  `${a.verb} ${a.resource}${a.group ? `.${a.group}` : ''}${a.name ? `/${a.name}` : ''} in ${a.namespace || 'all namespaces'} (${a.why})`;

export function rbacChecks(f: Facts): CheckResult[] {
  const op = f.operators.ok ? f.operators.value[0] : undefined;
  const base = { group: 'rbac' as const, id: 'rbac.operator', title: 'Operator ServiceAccount has the access it needs' };
  if (op === undefined || f.access === undefined) {
    return [{ ...base, status: 'skip', message: 'no operator installation found to review' }];
  }
  const subject = `ServiceAccount ${op.namespace}/${op.serviceAccount}`;
  const errors = f.access.filter((a) => !a.allowed.ok);
  const denied = f.access.filter((a) => a.allowed.ok && !a.allowed.value);
  const hard = denied.filter((a) => a.kindServed);
  const soft = denied.filter((a) => !a.kindServed);
  const out: CheckResult[] = [];
  if (errors.length > 0 && errors.length === f.access.length) {
    const first = errors[0]!.allowed;
    return [
      {
        ...base,
        status: 'warn',
        message: `cannot ask the authorizer: ${first.ok ? '' : first.error}`,
        hint: 'creating subjectaccessreviews.authorization.k8s.io needs cluster rights; run check as a cluster admin for this part',
      },
    ];
  }
  if (hard.length > 0) {
    out.push({
      ...base,
      status: 'fail',
      message: `${subject} is denied ${hard.length} of ${f.access.length} requests`,
      hint: 'reinstall the chart with rbac.create=true, or grant the rules listed in the docs',
      doc: DOC.opsRbac,
      details: hard.map(describe),
    });
  } else {
    out.push({ ...base, status: 'pass', message: `${subject}: ${f.access.length - soft.length - errors.length} requests allowed` });
  }
  if (soft.length > 0) {
    out.push({
      ...base,
      id: 'rbac.optional',
      title: 'Access for kinds not installed yet',
      status: 'warn',
      message: `${soft.length} grants missing for kinds this cluster does not serve yet`,
      hint: 'fine until you install them; the chart grants all of them',
      doc: DOC.opsRbac,
      details: soft.map(describe),
    });
  }
  if (errors.length > 0) {
    out.push({ ...base, id: 'rbac.unanswered', title: 'Access reviews answered', status: 'warn', message: `${errors.length} reviews failed`, details: errors.map(describe) });
  }
  return out;
}
