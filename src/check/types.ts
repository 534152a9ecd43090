// The shapes shared by the gatherer, the pure checks and the report.
import type { ServerVersion } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/object.ts';
import type { UnmuteDeployment } from './fleet-facts.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export const GROUPS = ['kubernetes', 'operator', 'rbac', 'gpu', 'monitoring', 'exposure', 'fleet'] as const;
export type CheckGroup = (typeof GROUPS)[number];

export interface CheckResult {
  group: CheckGroup;
  /** Stable identifier for scripts, e.g. `gpu.capacity`. */
  id: string;
  /** What is checked, e.g. `GPU nodes advertise nvidia.com/gpu`. */
  title: string;
  status: CheckStatus;
  /** One line: what was found. */
  message: string;
  /** One line: what to do about it (warn and fail). */
  hint?: string;
  /** Repository-relative doc link, e.g. `docs/getting-started.md#gpu-nodes`. */
  doc?: string;
  /** The UnmuteDeployment a fleet check is about, `namespace/name`. */
  fleet?: string;
  /** Extra lines (one per object found, per missing permission, ...). */
  details?: string[];
}

/** A read that may have failed (forbidden, timeout): checks report the error instead of guessing. */
export type Fact<T> = { ok: true; value: T } | { ok: false; error: string };

export const factOk = <T>(value: T): Fact<T> => ({ ok: true, value });
export const factError = <T>(error: string): Fact<T> => ({ ok: false, error });

/** One UnmuteDeployment to check: from -f (not applied yet) or read from the cluster. */
export interface FleetInput {
  /** `file.yaml#2` or `cluster`. */
  source: string;
  namespace: string;
  name: string;
  /** The parsed CR, or the schema problems that stopped the parse. */
  parsed: { ok: true; fleet: UnmuteDeployment } | { ok: false; problems: string[] };
}

/** One answered access question for the operator's ServiceAccount. */
export interface AccessAnswer {
  group: string;
  resource: string;
  verb: string;
  /** '' for cluster-wide. */
  namespace: string;
  name?: string;
  why: string;
  /** Whether the kind exists at all (a missing grant for an absent optional kind is only a warning). */
  kindServed: boolean;
  allowed: Fact<boolean>;
}

/** The operator as installed: its Deployment, its pods' readiness, its flags and Lease. */
export interface OperatorInstall {
  deployment: KubeObject;
  namespace: string;
  name: string;
  serviceAccount: string;
  desiredReplicas: number;
  readyReplicas: number;
  /** `--namespace` of the run command (namespaced mode), else undefined. */
  watchNamespace: string | undefined;
  leaderElection: boolean;
  leaseName: string;
  lease: Fact<KubeObject | undefined> | undefined;
}

/** Everything the checks read, gathered once. Keys of the maps are `namespace/name`. */
export interface Facts {
  /** ms since the epoch when gathering started (lease freshness). */
  now: number;
  server: Fact<ServerVersion>;
  /** `apiVersion/Kind` → served, for every kind the checks ask about. */
  served: Record<string, boolean>;
  /** The served HTTPRoute schema has rules[].timeouts (Gateway API v1.2+); undefined when HTTPRoute is not served or its schema is unreadable. */
  httpRouteTimeouts: boolean | undefined;
  /** Feature gates from a visible kube-controller-manager pod's flags; undefined when none is visible. */
  controllerManagerGates: Fact<Record<string, boolean> | undefined>;
  crd: Fact<KubeObject | undefined>;
  /** Hash of the schema this binary generates (compared with the installed CRD's). */
  binaryCrdSchemaHash: string;
  operators: Fact<OperatorInstall[]>;
  /** Undefined when no operator was found (nothing to review). */
  access: AccessAnswer[] | undefined;
  nodes: Fact<KubeObject[]>;
  /** Non-terminated pods bound to a node (GPU capacity in use). */
  pods: Fact<KubeObject[]>;
  /** Undefined when the Prometheus kind is not served. */
  prometheuses: Fact<KubeObject[]> | undefined;
  /** Deployments and StatefulSets with a container that looks like Grafana's dashboard sidecar. */
  grafanaSidecars: Fact<KubeObject[]>;
  ingressClasses: Fact<KubeObject[]> | undefined;
  namespaces: Record<string, Fact<KubeObject | undefined>>;
  secrets: Record<string, Fact<{ keys: string[] } | undefined>>;
  persistentVolumeClaims: Record<string, Fact<KubeObject | undefined>>;
  gateways: Record<string, Fact<KubeObject | undefined>>;
  gatewayClasses: Record<string, Fact<KubeObject | undefined>>;
  fleets: FleetInput[];
  /** With -f: may the user running check create UnmuteDeployments in each fleet namespace? */
  canApply: Record<string, Fact<boolean>>;
  /** Documents of -f that are not UnmuteDeployments (reported, not checked). */
  ignoredDocuments: string[];
  /** Where fleets were looked for when no -f was given ('' = all namespaces). */
  fleetScope: { fromFile: boolean; namespace: string };
}

export const key = (namespace: string, name: string): string => `${namespace}/${name}`;
