// Everything `check` takes from the rest of the operator, in one place: the CR's constants and
// schema, the renderer (what a fleet becomes), validation, and the label names.
export { API_VERSION, GROUP, KIND, PLURAL, VERSION, type UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
export { buildUnmuteDeploymentCrd } from '../api/v1alpha1/crd.ts';
export { DEFAULT_RUNBOOK_BASE_URL } from '../api/v1alpha1/monitoring.ts';
export { parseUnmuteDeployment, secretRefs, staticProblems } from '../controller/validate.ts';
export { renderFleet } from '../render/index.ts';
export { GPU_PRODUCT_LABEL } from '../render/pod.ts';
export { LABEL_COMPONENT, LABEL_FLEET } from '../api/v1alpha1/labels.ts';
export { initialReplicas } from '../autoscaler/plan.ts';
