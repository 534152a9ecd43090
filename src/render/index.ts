// Everything one UnmuteDeployment implies, as a pure function of the parsed CR and the
// cluster facts in RenderContext. The controller applies exactly this list.
import { API_VERSION, KIND, type UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { renderBackendDeployment, renderBackendPdb } from './backend.ts';
import { renderHttpRoute, renderIngress } from './exposure.ts';
import { renderFrontendDeployment, renderRedisDeployment } from './extras.ts';
import { renderLlmDeployment, renderMoshiDeployment } from './gpu-tier.ts';
import { renderService } from './service.ts';
import type { Component } from './labels.ts';
import type { KubeObject, OwnerReference, RenderContext } from './types.ts';
import { renderMonitoring, scrapeAnnotations } from '../monitoring/index.ts';

export function ownerReferenceTo(cr: UnmuteDeployment): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: cr.metadata.name,
    uid: cr.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Components present in this CR, in the order they are rendered. */
export function presentComponents(cr: UnmuteDeployment): Component[] {
  const { spec } = cr;
  const out: Component[] = ['backend', 'stt', 'tts'];
  if (spec.llm.inCluster) out.push('llm');
  if (spec.voiceCloning?.enabled) out.push('voice-cloning');
  if (spec.frontend) out.push('frontend');
  if (spec.redis?.inCluster) out.push('redis');
  return out;
}

export function renderAll(cr: UnmuteDeployment, ctx: RenderContext): KubeObject[] {
  const { spec } = cr;
  const annotations = (c: Component) => (spec.monitoring.enabled && spec.monitoring.podAnnotations ? scrapeAnnotations(cr, c) : {});
  const follower = (c: 'stt' | 'tts' | 'llm', fallback: number) => ctx.followerReplicas?.[c] ?? fallback;
  const objects: KubeObject[] = [
    renderBackendDeployment(cr, ctx, annotations('backend')),
    renderService(cr, 'backend', { port: spec.backend.port, headless: false, servingOnly: true }),
    renderBackendPdb(cr),
    renderMoshiDeployment(cr, 'stt', spec.stt, follower('stt', spec.stt.replicas), annotations('stt')),
    renderService(cr, 'stt', { port: spec.stt.port, headless: true }),
    renderMoshiDeployment(cr, 'tts', spec.tts, follower('tts', spec.tts.replicas), annotations('tts')),
    renderService(cr, 'tts', { port: spec.tts.port, headless: true }),
  ];
  if (spec.llm.inCluster) {
    objects.push(renderLlmDeployment(cr, spec.llm.inCluster, follower('llm', spec.llm.inCluster.replicas), annotations('llm')));
    objects.push(renderService(cr, 'llm', { port: spec.llm.inCluster.port, headless: false }));
  }
  if (spec.voiceCloning?.enabled) {
    objects.push(renderMoshiDeployment(cr, 'voice-cloning', spec.voiceCloning, spec.voiceCloning.replicas, annotations('voice-cloning')));
    objects.push(renderService(cr, 'voice-cloning', { port: spec.voiceCloning.port, headless: false }));
  }
  if (spec.frontend) {
    objects.push(renderFrontendDeployment(cr, spec.frontend));
    objects.push(renderService(cr, 'frontend', { port: spec.frontend.port, headless: false }));
  }
  if (spec.redis?.inCluster) {
    objects.push(renderRedisDeployment(cr, spec.redis.inCluster));
    objects.push(renderService(cr, 'redis', { port: 6379, headless: false }));
  }
  if (spec.exposure?.gateway && ctx.gatewayApiAvailable) objects.push(renderHttpRoute(cr, spec.exposure.gateway));
  if (spec.exposure?.ingress) objects.push(renderIngress(cr, spec.exposure.ingress));
  if (spec.monitoring.enabled) objects.push(...renderMonitoring(cr, ctx));

  const owner = ownerReferenceTo(cr);
  return objects.map((o) => ({ ...o, metadata: { ...o.metadata, ownerReferences: [owner] } }));
}
