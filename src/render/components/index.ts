// Where components really differ: the containers of their pods. Everything else about a component
// comes from its descriptor (src/api/v1alpha1/components.ts) through the shared builders.
import type { AnyComponent } from '../../api/v1alpha1/components.ts';
import type { UnmuteDeployment } from '../../api/v1alpha1/unmute-deployment.ts';
import type { WorkloadParts } from '../workload.ts';
import { backendWorkload } from './backend.ts';
import { frontendWorkload, redisWorkload } from './extras.ts';
import { moshiWorkload, vllmWorkload } from './gpu-server.ts';

export function workloadOf(fleet: UnmuteDeployment, c: AnyComponent, scrapeAnnotations: Record<string, string>): WorkloadParts {
  switch (c.name) {
    case 'backend':
      return backendWorkload(fleet, c, scrapeAnnotations);
    case 'stt':
    case 'tts':
    case 'voice-cloning':
      return moshiWorkload(c, scrapeAnnotations);
    case 'llm':
      return vllmWorkload(c, scrapeAnnotations);
    case 'frontend':
      return frontendWorkload(c);
    case 'redis':
      return redisWorkload(c);
  }
}
