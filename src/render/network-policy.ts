// One NetworkPolicy per component: who may open a connection to its pods. The backend is the
// public entry (clients, or anyone); STT, TTS, the LLM and voice cloning take connections from the
// fleet's backends only, plus the scrapers and the operator on their port; Redis from the backends.
// Egress is left open: the backend may call an external LLM, the GPU servers download weights.
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import { SESSIONS_COMPONENT, type AnyComponent } from '../api/v1alpha1/components.ts';
import { childName, componentLabels, selectorLabels } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { Desired } from './types.ts';

/** The operator's pods, as the chart labels them. */
function operatorPeer(namespace: string): INetworkPolicyPeer {
  return { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'unmute-operator' } } };
}

function peersFor(fleet: UnmuteDeployment, c: AnyComponent, operatorNamespace: string | undefined): INetworkPolicyPeer[] | undefined {
  const np = fleet.spec.networkPolicy;
  const clients = np.clients as INetworkPolicyPeer[] | undefined;
  const scrapers = c.metricsPath === undefined ? [] : [...(np.monitoring as INetworkPolicyPeer[]), ...(operatorNamespace === undefined ? [] : [operatorPeer(operatorNamespace)])];
  if (c.publicEntry) {
    // Unset clients: anyone (no `from`). Set: the clients, and the scrapers on the same port.
    return clients === undefined ? undefined : [...clients, ...scrapers];
  }
  return [{ podSelector: { matchLabels: selectorLabels(fleet.metadata.name, SESSIONS_COMPONENT) } }, ...scrapers];
}

export function renderNetworkPolicy(fleet: UnmuteDeployment, c: AnyComponent, operatorNamespace: string | undefined): Desired<INetworkPolicy> {
  const { name, namespace } = fleet.metadata;
  const from = peersFor(fleet, c, operatorNamespace);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: childName(name, c.name), namespace, labels: componentLabels(name, c.name) },
    spec: {
      podSelector: { matchLabels: selectorLabels(name, c.name) },
      policyTypes: ['Ingress'],
      ingress: [{ ...(from === undefined ? {} : { from }), ports: [{ port: c.port, protocol: 'TCP' }] }],
    },
  };
}
