// metav1.LabelSelector as the prometheus-operator reads it: null and {} mean different things.
import { z } from 'zod';
import { labelSelectorToString, matchesLabels, parseLabelSelector, type LabelSelector } from '../runtime/label-selector.ts';

export const labelSelectorSchema = z.looseObject({
  matchLabels: z.record(z.string(), z.string()).nullish(),
  matchExpressions: z
    .array(z.looseObject({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).nullish() }))
    .nullish(),
});

/** A parsed selector; `null` when the field is absent (prometheus-operator: "matches no objects" or "own namespace"). */
export type Selector = LabelSelector | null;

export function toSelector(value: unknown): Selector {
  if (value === undefined || value === null) return null;
  const s = labelSelectorSchema.safeParse(value);
  if (!s.success) return null;
  return {
    ...(s.data.matchLabels ? { matchLabels: s.data.matchLabels } : {}),
    ...(s.data.matchExpressions ? { matchExpressions: s.data.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values ? { values: e.values } : {}) })) } : {}),
  };
}

export function selectorMatches(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  return matchesLabels(parseLabelSelector(labelSelectorToString(selector)), labels);
}

/** `release=x,team in (a,b)`, or `{}` (everything). */
export function showSelector(selector: LabelSelector): string {
  return labelSelectorToString(selector) || '{} (everything)';
}

export const showLabels = (labels: Record<string, string> | undefined): string =>
  Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ') || '(none)';
