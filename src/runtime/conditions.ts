// metav1.Condition helpers. Pure: they return new lists and take `now` as an argument.
// lastTransitionTime changes only when status flips, so an unchanged condition compares equal to
// what the API server stored and the status write can be skipped.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339 with second precision, as metav1.Time serializes. */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** A condition as the caller states it; setCondition fills lastTransitionTime. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'message'> & { message?: string };

// apimachinery validation for metav1.Condition (pkg/apis/meta/v1/types.go).
const conditionReasonPattern = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const maxReasonLength = 1024;
const maxMessageLength = 32768;

/** Problems with a condition that the API server would reject; empty when valid. */
export function conditionProblems(cond: ConditionInput): string[] {
  const problems: string[] = [];
  if (!isQualifiedName(cond.type)) problems.push(`type ${JSON.stringify(cond.type)} is not a qualified name`);
  if (cond.type.length > 316) problems.push('type is longer than 316 characters');
  if (!['True', 'False', 'Unknown'].includes(cond.status)) problems.push(`status ${JSON.stringify(cond.status)} is not True, False or Unknown`);
  if (cond.reason.length === 0 || cond.reason.length > maxReasonLength || !conditionReasonPattern.test(cond.reason)) {
    problems.push(`reason ${JSON.stringify(cond.reason)} must match ${conditionReasonPattern.source} (1-${maxReasonLength} characters)`);
  }
  if ((cond.message ?? '').length > maxMessageLength) problems.push(`message is longer than ${maxMessageLength} characters`);
  if (cond.observedGeneration !== undefined && (!Number.isInteger(cond.observedGeneration) || cond.observedGeneration < 0)) {
    problems.push('observedGeneration must be an integer >= 0');
  }
  return problems;
}

export function isValidConditionReason(reason: string): boolean {
  return reason.length > 0 && reason.length <= maxReasonLength && conditionReasonPattern.test(reason);
}

/** metav1.Time serialization: RFC 3339, whole seconds, UTC. */
export function formatConditionTime(now: Date): string {
  return new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Returns `list` with `cond` set: added at the end when its type is new; otherwise replaced in place,
 * keeping lastTransitionTime unless the status changed. Throws on a condition the API server would reject.
 */
export function setCondition(list: readonly Condition[] | undefined, cond: ConditionInput, now: Date): Condition[] {
  const problems = conditionProblems(cond);
  if (problems.length > 0) throw new Error(`invalid condition ${cond.type}: ${problems.join('; ')}`);
  const current = list ?? [];
  const existing = current.find((c) => c.type === cond.type);
  const next: Condition = {
    type: cond.type,
    status: cond.status,
    ...(cond.observedGeneration === undefined ? {} : { observedGeneration: cond.observedGeneration }),
    lastTransitionTime:
      existing !== undefined && existing.status === cond.status ? existing.lastTransitionTime : formatConditionTime(now),
    reason: cond.reason,
    message: cond.message ?? '',
  };
  if (existing === undefined) return [...current, next];
  return current.map((c) => (c === existing ? next : c));
}

export function findCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

export function isConditionTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(list, type)?.status === 'True';
}

export function removeCondition(list: readonly Condition[] | undefined, type: string): Condition[] {
  return (list ?? []).filter((c) => c.type !== type);
}

/** A Kubernetes qualified name: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
function isQualifiedName(value: string): boolean {
  const parts = value.split('/');
  if (parts.length > 2) return false;
  const name = parts.at(-1) ?? '';
  if (name.length === 0 || name.length > 63 || !qualifiedNamePart.test(name)) return false;
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix.length === 0 || prefix.length > 253 || !dnsSubdomain.test(prefix)) return false;
  }
  return true;
}
