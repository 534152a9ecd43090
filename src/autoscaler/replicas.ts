// Backend replicas when no fresh decision exists (first reconcile, offline render, autoscaling off).
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';

/**
 * Autoscaling off: the spec decides (`kubectl scale` writes spec.backend.replicas).
 * Autoscaling on: keep what the Deployment has (the previous decision), within min..max;
 * a new Deployment starts from spec.backend.replicas, clamped.
 */
export function baselineBackendReplicas(cr: UnmuteDeployment, observedReplicas: number | undefined): number {
  if (!cr.spec.autoscaling.enabled) return cr.spec.backend.replicas;
  const { minReplicas, maxReplicas } = cr.spec.autoscaling;
  return Math.min(maxReplicas, Math.max(minReplicas, observedReplicas ?? cr.spec.backend.replicas));
}
