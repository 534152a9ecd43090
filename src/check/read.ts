// Reads for the gatherer that never throw: a failure becomes a Fact with the reason, so one
// forbidden list does not hide every other check.
import { describeError, isNotFound } from '../runtime/errors.ts';
import type { KubeClient, ListOptions } from '../runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../runtime/object.ts';
import { factError, factOk, type Fact } from './types.ts';

export async function attempt<T>(read: () => Promise<T>): Promise<Fact<T>> {
  try {
    return factOk(await read());
  } catch (err) {
    return factError(describeError(err));
  }
}

export function getMaybe(client: KubeClient, ref: TypeRef, name: string, namespace?: string): Promise<Fact<KubeObject | undefined>> {
  return attempt(async () => {
    try {
      return await client.get(ref, name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  });
}

export function listItems(client: KubeClient, ref: TypeRef, options: ListOptions = {}): Promise<Fact<KubeObject[]>> {
  return attempt(async () => (await client.listAll(ref, options)).items);
}

/** Runs `fn` over `items` with at most `limit` in flight (access reviews, per-object gets). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
