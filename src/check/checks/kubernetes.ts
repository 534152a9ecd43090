// The cluster itself: API server version and the features the operator relies on.
import { DOC } from '../docs.ts';
import { KINDS, servedKey } from '../kinds.ts';
import type { CheckResult, Facts } from '../types.ts';

/** CEL validation rules in the CRD are GA (and on) from 1.29. */
export const MIN_MINOR = 29;

export function parseMinor(v: { major: string; minor: string }): { major: number; minor: number } | undefined {
  const major = Number.parseInt(v.major, 10);
  const minor = Number.parseInt(v.minor, 10);
  return Number.isNaN(major) || Number.isNaN(minor) ? undefined : { major, minor };
}

export function kubernetesChecks(f: Facts): CheckResult[] {
  const group = 'kubernetes' as const;
  if (!f.server.ok) {
    return [
      {
        group,
        id: 'kubernetes.reachable',
        title: 'API server answers',
        status: 'fail',
        message: f.server.error,
        hint: 'check the kubeconfig (--kubeconfig, $KUBECONFIG) and that the cluster is up: kubectl version',
        doc: DOC.kubernetes,
      },
    ];
  }
  const v = parseMinor(f.server.value);
  const version = f.server.value.gitVersion;
  const out: CheckResult[] = [];
  const tooOld = v === undefined || v.major < 1 || (v.major === 1 && v.minor < MIN_MINOR);
  out.push({
    group,
    id: 'kubernetes.version',
    title: `Kubernetes 1.${MIN_MINOR} or newer`,
    status: tooOld ? 'fail' : 'pass',
    message: `API server ${version}`,
    ...(tooOld ? { hint: `upgrade the control plane to 1.${MIN_MINOR}+: the CRD's validation rules use CEL`, doc: DOC.kubernetes } : {}),
  });

  // The drain picks which pod a scale-down removes through controller.kubernetes.io/pod-deletion-cost.
  const gates = f.controllerManagerGates.ok ? f.controllerManagerGates.value : undefined;
  const costOff = gates?.['PodDeletionCost'] === false;
  const costOld = v !== undefined && v.major === 1 && v.minor < 22;
  out.push({
    group,
    id: 'kubernetes.pod-deletion-cost',
    title: 'Pod deletion cost is honoured by the ReplicaSet controller',
    status: costOff || costOld ? 'fail' : 'pass',
    message: costOff
      ? 'kube-controller-manager runs with --feature-gates=PodDeletionCost=false'
      : gates === undefined
        ? 'on by default since 1.22 (kube-controller-manager flags are not visible here, e.g. a managed control plane)'
        : 'on by default since 1.22, and not turned off in kube-controller-manager flags',
    ...(costOff || costOld
      ? { hint: 'enable the PodDeletionCost feature gate: without it a scale-down may remove a busy backend instead of the drained one', doc: DOC.kubernetes }
      : {}),
  });

  // Serving and terminating conditions of EndpointSlices (GA in 1.26) tell which backends take sessions.
  const slices = f.served[servedKey(KINDS.endpointSlice)] === true;
  const slicesOld = v !== undefined && v.major === 1 && v.minor < 26;
  out.push({
    group,
    id: 'kubernetes.endpointslice-conditions',
    title: 'EndpointSlices with serving/terminating conditions',
    status: !slices || slicesOld ? 'fail' : 'pass',
    message: !slices ? 'discovery.k8s.io/v1 EndpointSlice is not served' : slicesOld ? `conditions are GA from 1.26; this is ${version}` : 'discovery.k8s.io/v1 served; conditions GA since 1.26',
    ...(!slices || slicesOld ? { hint: 'upgrade the control plane', doc: DOC.kubernetes } : {}),
  });
  return out;
}
