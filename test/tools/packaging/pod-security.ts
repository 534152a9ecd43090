// The Pod Security Standards "restricted" profile (plus baseline, which it includes) as a pure
// check of a pod spec, so a chart change that weakens the operator pod fails a unit test. The
// integration test also asks the real API server (PodSecurity admission warnings).

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
  procMount?: string;
}

interface Container {
  name: string;
  securityContext?: SecurityContext;
  ports?: { hostPort?: number }[];
}

export interface PodSpec {
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  securityContext?: SecurityContext & { sysctls?: unknown[] };
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Record<string, unknown>[];
}

const ALLOWED_VOLUME_SOURCES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

/** Every rule of the profile the pod breaks, as readable sentences (empty: compliant). */
export function restrictedViolations(pod: PodSpec): string[] {
  const out: string[] = [];
  const podSc = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push('pod uses host namespaces');
  for (const v of pod.volumes ?? []) {
    const sources = Object.keys(v).filter((k) => k !== 'name');
    for (const s of sources) if (!ALLOWED_VOLUME_SOURCES.has(s)) out.push(`volume ${String(v['name'])} uses ${s}`);
  }
  const containers = [...pod.containers, ...(pod.initContainers ?? []), ...(pod.ephemeralContainers ?? [])];
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged) out.push(`${where} is privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where} does not set allowPrivilegeEscalation: false`);
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) out.push(`${where} does not set runAsNonRoot: true`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) out.push(`${where} runs as uid 0`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${where} has no RuntimeDefault/Localhost seccomp profile`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${where} does not drop ALL capabilities`);
    const added = (sc.capabilities?.add ?? []).filter((a) => a !== 'NET_BIND_SERVICE');
    if (added.length > 0) out.push(`${where} adds capabilities ${added.join(', ')}`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${where} sets procMount`);
    if ((c.ports ?? []).some((p) => (p.hostPort ?? 0) !== 0)) out.push(`${where} uses a hostPort`);
  }
  return out;
}
