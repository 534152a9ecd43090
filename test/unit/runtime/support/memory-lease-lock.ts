// An in-memory Lease with resourceVersion checks, shared by electors in unit tests. The real Lease is
// exercised by the integration test; this only drives the election algorithm's decisions.
import { KubeApiError } from '../../../../src/runtime/errors.ts';
import type { LeaderElectionRecord, LeaseLock, ObservedLease } from '../../../../src/runtime/lease-lock.ts';

export class MemoryLeaseLock implements LeaseLock {
  stored: ObservedLease | undefined;
  /** Makes every call fail while true (an unreachable API server). */
  unreachable = false;
  /** Makes create fail as the API server does when the Lease's namespace does not exist. */
  namespaceMissing = false;
  readonly writes: LeaderElectionRecord[] = [];
  #rv = 0;

  describe(): string {
    return 'operators/unmute-operator';
  }

  async get(): Promise<ObservedLease | undefined> {
    this.#check();
    return this.stored === undefined ? undefined : structuredClone(this.stored);
  }

  async create(record: LeaderElectionRecord): Promise<string> {
    this.#check();
    if (this.namespaceMissing) throw new KubeApiError({ code: 404, reason: 'NotFound', message: 'namespaces "operators" not found' });
    if (this.stored !== undefined) throw new KubeApiError({ code: 409, reason: 'AlreadyExists', message: 'exists' });
    return this.#store(record);
  }

  async update(record: LeaderElectionRecord, resourceVersion: string): Promise<string> {
    this.#check();
    if (this.stored === undefined) throw new KubeApiError({ code: 404, reason: 'NotFound', message: 'gone' });
    if (this.stored.resourceVersion !== resourceVersion) throw new KubeApiError({ code: 409, reason: 'Conflict', message: 'modified' });
    return this.#store(record);
  }

  #store(record: LeaderElectionRecord): string {
    const resourceVersion = String(++this.#rv);
    this.stored = { record: structuredClone(record), resourceVersion };
    this.writes.push(structuredClone(record));
    return resourceVersion;
  }

  #check(): void {
    if (this.unreachable) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
  }
}
