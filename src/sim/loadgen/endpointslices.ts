// Targets = the ready endpoints of a Kubernetes Service, read from its EndpointSlices
// (label kubernetes.io/service-name=<svc>) and refreshed periodically, the way kube-proxy sees
// them. Only endpoints whose conditions.ready is true are used: a draining backend (taken out of
// the Service by the operator) stops receiving new conversations here too.
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { TargetPool, type PickStrategy } from './targets.ts';

export const ENDPOINT_SLICE = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' } as const;

/** The fields of a discovery.k8s.io/v1 EndpointSlice read here. */
export interface EndpointSlice extends KubeObject {
  addressType?: string;
  ports?: Array<{ name?: string; port?: number }>;
  endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean } }>;
}

export type SliceLister = (namespace: string, labelSelector: string) => Promise<EndpointSlice[]>;

/** Lists a Service's EndpointSlices with the project's API client. */
export function sliceLister(client: KubeClient): SliceLister {
  return async (namespace, labelSelector) => (await client.list<EndpointSlice>(ENDPOINT_SLICE, { namespace, labelSelector })).items;
}

export interface EndpointSliceTargetOptions {
  namespace: string;
  service: string;
  /** Port name or number in the slices; default: the only port, or the one named `http`. */
  port?: string;
  scheme?: 'ws' | 'http';
  strategy?: PickStrategy;
  refreshMs?: number;
  /** sliceLister(client), or a fake in tests. */
  listSlices: SliceLister;
  onError?: (err: unknown) => void;
}

/** Pure: the URLs of ready endpoints in a set of slices. */
export function readyEndpointUrls(slices: readonly EndpointSlice[], port: string | undefined, scheme: 'ws' | 'http' = 'http'): string[] {
  const urls: string[] = [];
  for (const slice of slices) {
    const ports = slice.ports ?? [];
    const chosen =
      port === undefined
        ? ports.length === 1
          ? ports[0]
          : ports.find((p) => p.name === 'http')
        : ports.find((p) => p.name === port || String(p.port) === port);
    if (chosen?.port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready !== true) continue;
      const addr = ep.addresses[0];
      if (addr === undefined) continue;
      const host = slice.addressType === 'IPv6' || addr.includes(':') ? `[${addr}]` : addr;
      urls.push(`${scheme}://${host}:${chosen.port}`);
    }
  }
  return [...new Set(urls)].sort();
}

export class EndpointSliceTargets extends TargetPool {
  private readonly opts: EndpointSliceTargetOptions;
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: EndpointSliceTargetOptions) {
    super(opts.strategy ?? 'round-robin');
    this.opts = opts;
  }

  /** Lists once (so the first pick has targets) then keeps refreshing. */
  async start(): Promise<this> {
    await this.refresh();
    const every = this.opts.refreshMs ?? 1000;
    const loop = (): void => {
      this.timer = setTimeout(() => {
        this.refresh().catch((err: unknown) => this.opts.onError?.(err)).finally(() => {
          if (this.timer !== undefined) loop();
        });
      }, every);
      this.timer.unref();
    };
    loop();
    return this;
  }

  async refresh(): Promise<void> {
    const slices = await this.opts.listSlices(this.opts.namespace, `kubernetes.io/service-name=${this.opts.service}`);
    this.setTargets(readyEndpointUrls(slices, this.opts.port, this.opts.scheme));
  }

  override close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
