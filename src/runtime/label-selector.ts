// Kubernetes label selectors: the string form the API takes (`app=x,tier in (a,b),!legacy`), conversion
// from metav1.LabelSelector objects, and matching, so the cache can answer the same queries locally.

export type SelectorOperator = 'Exists' | 'DoesNotExist' | 'Equals' | 'NotEquals' | 'In' | 'NotIn' | 'GreaterThan' | 'LessThan';

export interface Requirement {
  key: string;
  operator: SelectorOperator;
  values: string[];
}

/** metav1.LabelSelector. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

const keyPattern = '[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?';
const valuePattern = '(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
const existsRe = new RegExp(`^(${keyPattern})$`);
const notExistsRe = new RegExp(`^!\\s*(${keyPattern})$`);
const equalityRe = new RegExp(`^(${keyPattern})\\s*(==|=|!=)\\s*(${valuePattern})$`);
const setRe = new RegExp(`^(${keyPattern})\\s+(in|notin)\\s*\\(([^)]*)\\)$`);
const compareRe = new RegExp(`^(${keyPattern})\\s*(<|>)\\s*(-?\\d+)$`);
const valueRe = new RegExp(`^${valuePattern}$`);

/** Parses a selector string; '' selects everything. Throws on syntax errors. */
export function parseLabelSelector(selector: string): Requirement[] {
  const requirements: Requirement[] = [];
  for (const raw of splitTopLevel(selector)) {
    const part = raw.trim();
    if (part === '') continue;
    let m: RegExpExecArray | null;
    if ((m = notExistsRe.exec(part)) !== null) {
      requirements.push({ key: m[1]!, operator: 'DoesNotExist', values: [] });
    } else if ((m = setRe.exec(part)) !== null) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (values.some((v) => !valueRe.test(v))) throw new Error(`invalid label selector value set in ${JSON.stringify(part)}`);
      requirements.push({ key: m[1]!, operator: m[2] === 'in' ? 'In' : 'NotIn', values });
    } else if ((m = compareRe.exec(part)) !== null) {
      requirements.push({ key: m[1]!, operator: m[2] === '>' ? 'GreaterThan' : 'LessThan', values: [m[3]!] });
    } else if ((m = equalityRe.exec(part)) !== null) {
      requirements.push({ key: m[1]!, operator: m[2] === '!=' ? 'NotEquals' : 'Equals', values: [m[3]!] });
    } else if ((m = existsRe.exec(part)) !== null) {
      requirements.push({ key: m[1]!, operator: 'Exists', values: [] });
    } else {
      throw new Error(`invalid label selector requirement ${JSON.stringify(part)}`);
    }
  }
  return requirements;
}

export function matchesLabels(requirements: readonly Requirement[], labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  return requirements.every((r) => {
    const present = Object.hasOwn(have, r.key);
    const value = have[r.key];
    switch (r.operator) {
      case 'Exists':
        return present;
      case 'DoesNotExist':
        return !present;
      case 'Equals':
        return present && value === r.values[0];
      case 'NotEquals':
        return !present || value !== r.values[0];
      case 'In':
        return present && r.values.includes(value ?? '');
      case 'NotIn':
        return !present || !r.values.includes(value ?? '');
      case 'GreaterThan':
      case 'LessThan': {
        const n = Number(value);
        if (!present || !Number.isInteger(n)) return false;
        const bound = Number(r.values[0]);
        return r.operator === 'GreaterThan' ? n > bound : n < bound;
      }
    }
  });
}

/** The string form of a metav1.LabelSelector, e.g. for a list/watch query. */
export function labelSelectorToString(selector: LabelSelector): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    parts.push(`${key}=${value}`);
  }
  for (const expr of selector.matchExpressions ?? []) {
    const values = [...(expr.values ?? [])].sort();
    switch (expr.operator) {
      case 'In':
        parts.push(`${expr.key} in (${values.join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${expr.key} notin (${values.join(',')})`);
        break;
      case 'Exists':
        parts.push(expr.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${expr.key}`);
        break;
    }
  }
  return parts.join(',');
}

/** Splits on commas outside parentheses. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts;
}
