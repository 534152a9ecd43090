// Everything `check` takes from the rest of the operator, in one place: the CR's constants and
// schema, the renderer (what a CR becomes), validation, and the label names. src/render,
// src/controller and src/api are being reorganised; only this file should need new paths.
export { API_VERSION, GROUP, KIND, PLURAL, VERSION, type UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
export { buildUnmuteDeploymentCrd } from '../api/v1alpha1/crd.ts';
export { DEFAULT_RUNBOOK_BASE_URL } from '../api/v1alpha1/monitoring.ts';
export { parseUnmuteDeployment, secretRefs, staticProblems } from '../controller/validate.ts';
export { renderAll } from '../render/index.ts';
export { GPU_PRODUCT_LABEL } from '../render/pod.ts';
export { LABEL_DEPLOYMENT, LABEL_MANAGED_BY, LABEL_TIER, MANAGED_BY } from '../render/labels.ts';
export { baselineBackendReplicas } from '../autoscaler/replicas.ts';
