// How users reach the fleet: the Gateway API kinds or an IngressClass must exist, the Gateway must
// accept a route from the fleet's namespace, and the proxy must not cut minutes-long websockets.
import { z } from 'zod';
import { DEFAULT_INGRESS_ANNOTATIONS } from '../../render/exposure.ts';
import { DOC } from '../docs.ts';
import { fleetReferences } from '../fleets.ts';
import { KINDS, servedKey } from '../kinds.ts';
import { selectorMatches, toSelector } from '../selectors.ts';
import { key, type CheckResult, type Facts, type FleetInput } from '../types.ts';

const group = 'exposure' as const;

/** Controllers documented (docs/operations.md) to start from Envoy's 15 s route timeout. */
const ENVOY_ROUTE_TIMEOUT_CONTROLLERS = ['gateway.envoyproxy.io/gatewayclass-controller', 'projectcontour.io/gateway-controller'];
const NGINX_CONTROLLER = 'k8s.io/ingress-nginx';
/** Shorter than this, ingress-nginx closes a quiet websocket during a normal pause of a conversation. */
const NGINX_MIN_TIMEOUT_SECONDS = 600;

const listenerSchema = z.looseObject({
  name: z.string(),
  allowedRoutes: z
    .looseObject({ namespaces: z.looseObject({ from: z.string().optional(), selector: z.unknown().optional() }).optional() })
    .optional(),
});
const gatewaySpec = z.looseObject({ gatewayClassName: z.string().optional(), listeners: z.array(listenerSchema).default([]) });

function gatewayChecks(f: Facts, fleet: FleetInput, fleetName: string): CheckResult[] {
  const base = { group, id: 'exposure.gateway', title: `Gateway for ${fleetName}`, fleet: fleetName, doc: DOC.gateway };
  if (!f.served[servedKey(KINDS.httpRoute)]) {
    return [{ ...base, status: 'fail', message: 'spec.exposure.gateway is set, but HTTPRoute (gateway.networking.k8s.io/v1) is not served: no route will be created', hint: 'install the Gateway API CRDs and a Gateway implementation, or use spec.exposure.ingress' }];
  }
  const cr = fleet.parsed.ok ? fleet.parsed.fleet : undefined;
  if (cr === undefined) return [];
  const nsObj = f.namespaces[fleet.namespace];
  const nsLabels = (nsObj?.ok ? nsObj.value?.metadata.labels : undefined) ?? { 'kubernetes.io/metadata.name': fleet.namespace };
  const out: CheckResult[] = [];
  for (const ref of fleetReferences(cr).gateways) {
    const gwName = `${ref.namespace}/${ref.name}`;
    const gw = f.gateways[key(ref.namespace, ref.name)];
    if (gw === undefined || !gw.ok) {
      out.push({ ...base, status: 'warn', message: `cannot read Gateway ${gwName}${gw && !gw.ok ? `: ${gw.error}` : ''}` });
      continue;
    }
    if (gw.value === undefined) {
      out.push({ ...base, status: 'fail', message: `Gateway ${gwName} does not exist`, hint: 'create it, or fix spec.exposure.gateway.parentRefs' });
      continue;
    }
    const spec = gatewaySpec.safeParse(gw.value['spec'] ?? {});
    const listeners = (spec.success ? spec.data.listeners : []).filter((l) => ref.sectionName === undefined || l.name === ref.sectionName);
    // allowedRoutes.namespaces.from defaults to Same: a route from another namespace is ignored.
    const admits = listeners.some((l) => {
      const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
      if (from === 'All') return true;
      if (from === 'Same') return ref.namespace === fleet.namespace;
      const sel = toSelector(l.allowedRoutes?.namespaces?.selector);
      return from === 'Selector' && sel !== null && selectorMatches(sel, nsLabels);
    });
    if (!admits) {
      out.push({
        ...base,
        status: 'fail',
        message: `no listener of Gateway ${gwName}${ref.sectionName ? ` (section ${ref.sectionName})` : ''} admits routes from namespace ${fleet.namespace}`,
        hint: 'set the listener\'s allowedRoutes.namespaces.from to All, or to Selector matching this namespace',
      });
      continue;
    }
    const className = spec.success ? spec.data.gatewayClassName : undefined;
    const cls = className === undefined ? undefined : f.gatewayClasses[className];
    const controller = cls?.ok ? (cls.value?.['spec'] as { controllerName?: string } | undefined)?.controllerName : undefined;
    if (className !== undefined && cls?.ok && cls.value === undefined) {
      out.push({ ...base, status: 'fail', message: `Gateway ${gwName} uses GatewayClass ${className}, which does not exist` });
      continue;
    }
    out.push({ ...base, status: 'pass', message: `Gateway ${gwName} (class ${className ?? '?'}) admits the route` });
    // The operator disables the /api rule's request timeout where the HTTPRoute schema has the field.
    if (controller !== undefined && ENVOY_ROUTE_TIMEOUT_CONTROLLERS.includes(controller) && f.httpRouteTimeouts !== true) {
      out.push({
        ...base,
        id: 'exposure.timeouts',
        title: `Timeouts of ${gwName} allow long conversations`,
        status: 'warn',
        message:
          f.httpRouteTimeouts === false
            ? `the installed HTTPRoute CRD has no rules[].timeouts (Gateway API before v1.2), so the route cannot disable it: ${controller} applies Envoy's 15 s route timeout`
            : `cannot tell whether the HTTPRoute may carry timeouts (its schema was not readable): ${controller} applies Envoy's 15 s route timeout unless the route or a policy disables it`,
        hint: 'install Gateway API v1.2 or later (the operator then sets timeouts.request: 0s), or disable the route timeout with the implementation\'s policy',
        doc: DOC.opsTimeouts,
      });
    }
  }
  return out;
}

const ingressClassSchema = z.looseObject({ spec: z.looseObject({ controller: z.string().optional() }).optional() });

function ingressChecks(f: Facts, fleet: FleetInput, fleetName: string): CheckResult[] {
  const ingress = fleet.parsed.ok ? fleet.parsed.fleet.spec.exposure?.ingress : undefined;
  if (ingress === undefined) return [];
  const base = { group, id: 'exposure.ingress', title: `IngressClass for ${fleetName}`, fleet: fleetName, doc: DOC.gateway };
  if (f.ingressClasses === undefined || !f.ingressClasses.ok) {
    return [{ ...base, status: 'warn', message: `cannot list IngressClasses${f.ingressClasses && !f.ingressClasses.ok ? `: ${f.ingressClasses.error}` : ''}` }];
  }
  const classes = f.ingressClasses.value;
  const isDefault = (c: (typeof classes)[number]) => c.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'] === 'true';
  const cls = ingress.className === undefined ? classes.find(isDefault) : classes.find((c) => c.metadata.name === ingress.className);
  if (cls === undefined) {
    return [
      {
        ...base,
        status: 'fail',
        message: ingress.className === undefined ? 'no className and no default IngressClass: no controller will serve the Ingress' : `IngressClass ${ingress.className} does not exist`,
        hint: `kubectl get ingressclass; set spec.exposure.ingress.className to one of: ${classes.map((c) => c.metadata.name).join(', ') || '(none installed)'}`,
      },
    ];
  }
  const parsed = ingressClassSchema.safeParse(cls);
  const controller = parsed.success ? parsed.data.spec?.controller : undefined;
  const out: CheckResult[] = [{ ...base, status: 'pass', message: `IngressClass ${cls.metadata.name} (${controller ?? 'unknown controller'})` }];
  if (controller === NGINX_CONTROLLER) {
    // The renderer's defaults, unless the user set their own.
    const effective = (k: string) => Number(ingress.annotations?.[k] ?? DEFAULT_INGRESS_ANNOTATIONS[k]);
    const read = effective('nginx.ingress.kubernetes.io/proxy-read-timeout');
    const send = effective('nginx.ingress.kubernetes.io/proxy-send-timeout');
    if (!(read >= NGINX_MIN_TIMEOUT_SECONDS && send >= NGINX_MIN_TIMEOUT_SECONDS)) {
      out.push({
        ...base,
        id: 'exposure.timeouts',
        title: `ingress-nginx timeouts of ${fleetName} allow long conversations`,
        status: 'warn',
        message: `proxy-read-timeout ${read} s, proxy-send-timeout ${send} s: a quiet websocket is closed after that`,
        hint: 'remove the lower nginx.ingress.kubernetes.io/proxy-read-timeout / proxy-send-timeout from spec.exposure.ingress.annotations (the operator sets "3600"), or raise them',
        doc: DOC.opsTimeouts,
      });
    }
  }
  return out;
}

export function fleetExposureChecks(f: Facts, fleet: FleetInput): CheckResult[] {
  if (!fleet.parsed.ok) return [];
  const fleetName = `${fleet.namespace}/${fleet.name}`;
  const exposure = fleet.parsed.fleet.spec.exposure;
  if (exposure?.gateway) return gatewayChecks(f, fleet, fleetName);
  if (exposure?.ingress) return ingressChecks(f, fleet, fleetName);
  return [
    {
      group,
      id: 'exposure.none',
      title: `Exposure of ${fleetName}`,
      fleet: fleetName,
      status: 'skip',
      message: 'no spec.exposure: reach the fleet through your own route or kubectl port-forward',
      doc: DOC.gateway,
    },
  ];
}
