import { describe, expect, it } from 'vitest';
import { fleetExposureChecks } from '../../../src/check/checks/exposure.ts';
import { factOk } from '../../../src/check/types.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { aFleet, allServed, byId, healthyFacts, one } from './support.ts';

const gatewayFleet = aFleet({ exposure: { gateway: { parentRefs: [{ name: 'public', namespace: 'gateways' }] } } }, { namespace: 'voice' });

function aGateway(from: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'public', namespace: 'gateways' },
    spec: { gatewayClassName: 'eg', listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', allowedRoutes: { namespaces: { from, ...extra } } }] },
  };
}
const aClass = (controllerName: string): KubeObject => ({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'eg' }, spec: { controllerName } });

describe('the Gateway checks', () => {
  it('fail when HTTPRoute is not served', () => {
    const r = fleetExposureChecks(healthyFacts({ served: allServed(['HTTPRoute']) }), gatewayFleet);
    expect(r[0]).toMatchObject({ status: 'fail', id: 'exposure.gateway' });
  });

  it('fail when the Gateway is missing', () => {
    const r = fleetExposureChecks(healthyFacts({ gateways: { 'gateways/public': factOk(undefined) } }), gatewayFleet);
    expect(r[0]).toMatchObject({ status: 'fail', message: 'Gateway gateways/public does not exist' });
  });

  it('fail when the listener only admits routes from its own namespace (the default)', () => {
    const r = fleetExposureChecks(healthyFacts({ gateways: { 'gateways/public': factOk(aGateway('Same')) } }), gatewayFleet);
    expect(r[0]!.status).toBe('fail');
    expect(r[0]!.message).toContain('admits routes from namespace voice');
  });

  it('pass a listener admitting every namespace; warn about Envoy Gateway\'s route timeout only when the route cannot disable it', () => {
    const facts = (httpRouteTimeouts: boolean | undefined) =>
      healthyFacts({
        httpRouteTimeouts,
        gateways: { 'gateways/public': factOk(aGateway('All')) },
        gatewayClasses: { eg: factOk(aClass('gateway.envoyproxy.io/gatewayclass-controller')) },
      });
    const current = fleetExposureChecks(facts(true), gatewayFleet);
    expect(one(current, 'exposure.gateway').status).toBe('pass');
    expect(byId(current, 'exposure.timeouts')).toEqual([]);
    const old = one(fleetExposureChecks(facts(false), gatewayFleet), 'exposure.timeouts');
    expect(old).toMatchObject({ status: 'warn', doc: 'docs/operations.md#exposure-defaults' });
    expect(old.message).toContain('before v1.2');
    expect(one(fleetExposureChecks(facts(undefined), gatewayFleet), 'exposure.timeouts').message).toContain('not readable');
  });

  it('match a Selector listener against the namespace labels', () => {
    const gw = aGateway('Selector', { selector: { matchLabels: { expose: 'yes' } } });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'voice', labels: { expose: 'yes' } } };
    const base = { gateways: { 'gateways/public': factOk(gw) }, gatewayClasses: { eg: factOk(aClass('example.com/other')) } };
    expect(fleetExposureChecks(healthyFacts(base), gatewayFleet)[0]!.status).toBe('fail');
    const r = fleetExposureChecks(healthyFacts({ ...base, namespaces: { voice: factOk(ns) } }), gatewayFleet);
    expect(r.map((x) => x.status)).toEqual(['pass']);
  });
});

const anIngressClass = (name: string, controller: string, isDefault = false): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name, ...(isDefault ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } } : {}) },
  spec: { controller },
});

describe('the Ingress checks', () => {
  const ingressFleet = (ingress: Record<string, unknown>) => aFleet({ exposure: { ingress: { hosts: ['unmute.example.com'], ...ingress } } });

  it('fail without a className and without a default class', () => {
    const r = fleetExposureChecks(healthyFacts({ ingressClasses: factOk([anIngressClass('nginx', 'k8s.io/ingress-nginx')]) }), ingressFleet({}));
    expect(r[0]).toMatchObject({ status: 'fail' });
    expect(r[0]!.hint).toContain('nginx');
  });

  it('pass ingress-nginx with the operator\'s timeouts, and warn when the user lowered one', () => {
    const classes = factOk([anIngressClass('nginx', 'k8s.io/ingress-nginx', true)]);
    const r = fleetExposureChecks(healthyFacts({ ingressClasses: classes }), ingressFleet({}));
    expect(one(r, 'exposure.ingress').status).toBe('pass');
    expect(byId(r, 'exposure.timeouts')).toEqual([]);
    const lowered = ingressFleet({ className: 'nginx', annotations: { 'nginx.ingress.kubernetes.io/proxy-read-timeout': '60' } });
    const warn = one(fleetExposureChecks(healthyFacts({ ingressClasses: classes }), lowered), 'exposure.timeouts');
    expect(warn.message).toBe('proxy-read-timeout 60 s, proxy-send-timeout 3600 s: a quiet websocket is closed after that');
  });
});

describe('no exposure', () => {
  it('is skipped, not failed', () => {
    expect(fleetExposureChecks(healthyFacts(), aFleet())[0]!.status).toBe('skip');
  });
});
