// The Lease behind leader election, as an interface (an in-memory one drives the unit tests; the
// integration test runs the real coordination.k8s.io/v1 Lease). Optimistic concurrency: update
// carries the resourceVersion it read and fails with 409 if someone wrote in between.
import { z } from 'zod';
import { isNotFound } from './errors.ts';
import type { KubeClient } from './kube-client.ts';
import type { KubeObject } from './object.ts';

/** client-go's LeaderElectionRecord, as stored in a Lease's spec. Times are MicroTime strings. */
export interface LeaderElectionRecord {
  /** '' when released. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

export interface ObservedLease {
  record: LeaderElectionRecord;
  resourceVersion: string;
}

export interface LeaseLock {
  /** `namespace/name`, for logs and the metric label. */
  describe(): string;
  /** The current record, or undefined when the Lease does not exist. */
  get(signal: AbortSignal): Promise<ObservedLease | undefined>;
  /** Creates the Lease; fails (409 AlreadyExists) if it exists. Returns the new resourceVersion. */
  create(record: LeaderElectionRecord, signal: AbortSignal): Promise<string>;
  /** Replaces the record if the Lease is still at `resourceVersion` (else 409 Conflict). */
  update(record: LeaderElectionRecord, resourceVersion: string, signal: AbortSignal): Promise<string>;
}

/**
 * metav1.MicroTime: RFC 3339 with six fractional digits (`2025-01-01T00:00:00.123000Z`). A JS Date's
 * toISOString has three, which the API server's MicroTime layout does not promise to accept.
 */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

const LEASE = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;

const leaseSpecSchema = z
  .object({
    holderIdentity: z.string().nullish(),
    leaseDurationSeconds: z.number().int().nullish(),
    acquireTime: z.string().nullish(),
    renewTime: z.string().nullish(),
    leaseTransitions: z.number().int().nullish(),
  })
  .nullish();

/** A coordination.k8s.io/v1 Lease through the KubeClient. */
export class KubeLeaseLock implements LeaseLock {
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #name: string;

  constructor(client: KubeClient, namespace: string, name: string) {
    this.#client = client;
    this.#namespace = namespace;
    this.#name = name;
  }

  describe(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  async get(signal: AbortSignal): Promise<ObservedLease | undefined> {
    let lease: KubeObject;
    try {
      lease = await this.#client.get(LEASE, this.#name, this.#namespace, { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const spec = leaseSpecSchema.parse(lease.spec) ?? {};
    return {
      resourceVersion: lease.metadata.resourceVersion ?? '',
      record: {
        holderIdentity: spec.holderIdentity ?? '',
        leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
        acquireTime: spec.acquireTime ?? '',
        renewTime: spec.renewTime ?? '',
        leaseTransitions: spec.leaseTransitions ?? 0,
      },
    };
  }

  async create(record: LeaderElectionRecord, signal: AbortSignal): Promise<string> {
    const created = await this.#client.create(this.#lease(record, undefined), { signal });
    return created.metadata.resourceVersion ?? '';
  }

  async update(record: LeaderElectionRecord, resourceVersion: string, signal: AbortSignal): Promise<string> {
    const updated = await this.#client.update(this.#lease(record, resourceVersion), { signal });
    return updated.metadata.resourceVersion ?? '';
  }

  #lease(record: LeaderElectionRecord, resourceVersion: string | undefined): KubeObject {
    const spec: Record<string, unknown> = {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      leaseTransitions: record.leaseTransitions,
    };
    if (record.acquireTime !== '') spec.acquireTime = record.acquireTime;
    if (record.renewTime !== '') spec.renewTime = record.renewTime;
    return {
      ...LEASE,
      metadata: { name: this.#name, namespace: this.#namespace, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
      spec,
    };
  }
}
