// repairPatch: the hand edits server-side apply cannot revert alone (a renumbered port keeps its name
// and would clash with ours), and the ones it must leave alone.
import { describe, expect, it } from 'vitest';
import { repairMayApply, repairPatch } from '../../../src/controller/repair.ts';
import type { KubeObject, ManagedFieldsEntry } from '../../../src/runtime/object.ts';

const MANAGER = 'unmute-operator';

function aService(ports: Array<Record<string, unknown>>, managedFields: ManagedFieldsEntry[] = []): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'demo-backend', namespace: 'ns', managedFields }, spec: { ports } };
}

const ours = (fieldsV1: Record<string, unknown>): ManagedFieldsEntry => ({ manager: MANAGER, operation: 'Apply', fieldsV1 });
const edit = (manager: string, fieldsV1: Record<string, unknown>): ManagedFieldsEntry => ({ manager, operation: 'Update', fieldsV1 });
const servicePort = (port: number) => ({ 'f:spec': { 'f:ports': { [`k:{"port":${port},"protocol":"TCP"}`]: { '.': {}, 'f:port': {} } } } });

const desiredService = aService([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);

describe('repairPatch', () => {
  it('replaces a Service port another manager renumbered, since it would clash by name with ours', () => {
    const observed = aService([{ name: 'http', port: 81, targetPort: 'http', protocol: 'TCP' }], [ours({ 'f:spec': { 'f:selector': {} } }), edit('kubectl-edit', servicePort(81))]);
    expect(repairPatch(desiredService, observed, MANAGER)).toEqual([
      { op: 'test', path: '/spec/ports', value: [{ name: 'http', port: 81, targetPort: 'http', protocol: 'TCP' }] },
      { op: 'replace', path: '/spec/ports', value: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
    ]);
  });

  it('leaves an extra port that another manager added under its own name', () => {
    const observed = aService(
      [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'debug', port: 9999, protocol: 'TCP' },
      ],
      [ours(servicePort(80)), edit('kubectl-edit', servicePort(9999))],
    );
    expect(repairPatch(desiredService, observed, MANAGER)).toBeUndefined();
  });

  it('leaves a port only we hold to the apply, which removes it itself (a spec change)', () => {
    const observed = aService([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }], [ours(servicePort(8080))]);
    expect(repairPatch(desiredService, observed, MANAGER)).toBeUndefined();
  });

  it('replaces a container port renumbered by hand in a Deployment', () => {
    const container = (port: number) => ({ name: 'backend', image: 'b:1', ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }] });
    const deployment = (port: number, managedFields: ManagedFieldsEntry[] = []): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'demo-backend', managedFields },
      spec: { template: { spec: { containers: [{ name: 'sidecar', image: 's:1' }, container(port)] } } },
    });
    const editor = edit('kubectl-edit', {
      'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"backend"}': { 'f:ports': { 'k:{"containerPort":81,"protocol":"TCP"}': { 'f:containerPort': {} } } } } } } },
    });
    const desired: KubeObject = { ...deployment(80), spec: { template: { spec: { containers: [container(80)] } } } };
    expect(repairPatch(desired, deployment(81, [editor]), MANAGER)).toEqual([
      { op: 'test', path: '/spec/template/spec/containers/1/ports', value: [{ name: 'http', containerPort: 81, protocol: 'TCP' }] },
      { op: 'replace', path: '/spec/template/spec/containers/1/ports', value: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] },
    ]);
  });

  it('has nothing to repair in an object that does not exist yet', () => {
    expect(repairPatch(desiredService, undefined, MANAGER)).toBeUndefined();
  });

  it('tells from managedFields alone (a metadata-only copy) whether another manager holds ports worth a read', () => {
    const metadataOnly = (managedFields: ManagedFieldsEntry[]): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'demo-backend', namespace: 'ns', managedFields } });
    expect(repairMayApply(desiredService, metadataOnly([ours(servicePort(80)), edit('kubectl-edit', servicePort(81))]), MANAGER)).toBe(true);
    expect(repairMayApply(desiredService, metadataOnly([ours(servicePort(80)), edit('kubectl-label', { 'f:metadata': { 'f:labels': { 'f:team': {} } } })]), MANAGER)).toBe(false);
    expect(repairMayApply(desiredService, metadataOnly([ours(servicePort(80))]), MANAGER)).toBe(false);
    expect(repairMayApply(desiredService, undefined, MANAGER)).toBe(false);
  });
});
