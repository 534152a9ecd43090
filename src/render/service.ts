// One Service per component, shaped by its descriptor: STT and TTS headless (the backend's DNS
// lookup sees every ready instance), the backend selecting only pods in rotation.
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceSpec } from 'kubernetes-models/v1/ServiceSpec';
import type { AnyComponent, ComponentName } from '../api/v1alpha1/components.ts';
import { LABEL_SERVING, SERVING, childName, componentLabels, selectorLabels } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { omitUndefined } from './pod.ts';
import type { Desired } from './types.ts';

/** In-cluster DNS name of a component's Service, qualified by namespace so it works from anywhere. */
export function serviceHost(fleet: UnmuteDeployment, component: ComponentName): string {
  return `${childName(fleet.metadata.name, component)}.${fleet.metadata.namespace}.svc`;
}

export function renderService(fleet: UnmuteDeployment, c: AnyComponent): Desired<IService> {
  const { name, namespace } = fleet.metadata;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: childName(name, c.name), namespace, labels: componentLabels(name, c.name) },
    spec: omitUndefined<IServiceSpec>({
      selector: { ...selectorLabels(name, c.name), ...(c.service.selectsServing ? { [LABEL_SERVING]: SERVING.inRotation } : {}) },
      ports: [{ name: c.portName, port: c.port, targetPort: c.portName, protocol: 'TCP' }],
      clusterIP: c.service.headless ? 'None' : undefined,
    }),
  };
}
