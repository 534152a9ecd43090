// Finds the installed operator (Deployment, Lease) and asks the API server, through
// SubjectAccessReviews, what its ServiceAccount may do. Reviews are answered, never stored.
import { isForbidden } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/object.ts';
import { KINDS, servedKey } from './kinds.ts';
import { DEFAULT_OPERATOR_NAMESPACE, LEASE_ACCESS, MANAGER_ACCESS, OPERATOR_SELECTOR, describeOperatorDeployment } from './operator-install.ts';
import { attempt, getMaybe, mapLimit } from './read.ts';
import type { AccessAnswer, Fact, OperatorInstall } from './types.ts';

/** Operator Deployments in every namespace, or in `operatorNamespace` when given or when listing all is forbidden. */
export async function findOperators(client: KubeClient, operatorNamespace: string | undefined): Promise<Fact<OperatorInstall[]>> {
  return attempt(async () => {
    let deployments: KubeObject[];
    try {
      deployments = (await client.listAll(KINDS.deployment, { labelSelector: OPERATOR_SELECTOR, ...(operatorNamespace ? { namespace: operatorNamespace } : {}) })).items;
    } catch (err) {
      if (operatorNamespace !== undefined || !isForbidden(err)) throw err;
      deployments = (await client.listAll(KINDS.deployment, { labelSelector: OPERATOR_SELECTOR, namespace: DEFAULT_OPERATOR_NAMESPACE })).items;
    }
    return Promise.all(
      deployments.map(async (deployment): Promise<OperatorInstall> => {
        const d = describeOperatorDeployment(deployment);
        const lease = d.leaderElection ? await getMaybe(client, KINDS.lease, d.leaseName, d.namespace) : undefined;
        return { deployment, ...d, lease };
      }),
    );
  });
}

interface Question {
  group: string;
  resource: string;
  verb: string;
  namespace: string;
  name?: string;
  why: string;
  kindServed: boolean;
}

/** What to ask for one operator: its manager rules where it works, and its own Lease. */
export function accessQuestions(op: OperatorInstall, served: Record<string, boolean>): Question[] {
  const where = op.watchNamespace ?? '';
  const out: Question[] = [];
  for (const a of MANAGER_ACCESS) {
    const kindServed = a.optionalKind === undefined || served[servedKey(a.optionalKind)] === true;
    for (const verb of a.verbs) out.push({ group: a.group, resource: a.resource, verb, namespace: where, why: a.why, kindServed });
  }
  if (op.leaderElection) {
    for (const l of LEASE_ACCESS) {
      out.push({
        group: 'coordination.k8s.io',
        resource: 'leases',
        verb: l.verb,
        namespace: op.namespace,
        ...(l.named ? { name: op.leaseName } : {}),
        why: 'leader election',
        kindServed: true,
      });
    }
  }
  return out;
}

export async function reviewAccess(client: KubeClient, op: OperatorInstall, served: Record<string, boolean>): Promise<AccessAnswer[]> {
  const user = `system:serviceaccount:${op.namespace}:${op.serviceAccount}`;
  const groups = ['system:serviceaccounts', `system:serviceaccounts:${op.namespace}`, 'system:authenticated'];
  return mapLimit(accessQuestions(op, served), 8, async (q) => {
    const [resource, subresource] = q.resource.split('/') as [string, string | undefined];
    const allowed = await attempt(async () => {
      const answer = await client.review({
        ...KINDS.subjectAccessReview,
        spec: {
          user,
          groups,
          resourceAttributes: {
            verb: q.verb,
            group: q.group,
            resource,
            ...(subresource ? { subresource } : {}),
            ...(q.namespace ? { namespace: q.namespace } : {}),
            ...(q.name ? { name: q.name } : {}),
          },
        },
      });
      const status = answer['status'] as { allowed?: unknown } | undefined;
      return status?.allowed === true;
    });
    return { ...q, allowed };
  });
}
