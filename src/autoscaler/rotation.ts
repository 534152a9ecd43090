// Load-aware routing: a backend that holds acceptUntil sessions leaves rotation (label
// unmute.sh/serving=full: its Service no longer selects it) and keeps its conversations; it comes
// back when one ends. Unmute makes a caller beyond a backend's slots wait, silently, for a slot on
// that very backend, while round-robin Services and gateways keep sending new callers there. Pure.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { ComponentPod } from './pool.ts';

export function acceptUntil(fleet: UnmuteDeployment): number {
  const b = fleet.spec.backend;
  return Math.min(b.routing.acceptUntil ?? b.maxSessionsPerPod, b.maxSessionsPerPod);
}

/** In rotation or full: running, not draining, not on its way out. */
const inService = (p: ComponentPod) => p.serving && !p.terminating && p.phase === 'Running';

export interface RotationChanges {
  /** In rotation and now holding acceptUntil sessions: take them out. */
  toFull: string[];
  /** Full and now below acceptUntil, or without a fresh reading: put them back. */
  toRotation: string[];
}

/** Can take a caller now: in service, Ready, below acceptUntil (or in rotation and not read yet, as a new pod). */
const open = (p: ComponentPod, until: number) => inService(p) && p.ready !== false && (p.load === undefined ? p.full !== true : p.load < until);

/**
 * Which backends leave or rejoin rotation. A full pod whose reading went stale returns: a backend
 * nobody can read must not stay out of rotation for good. Pods in `exclude` (drained, undrained or
 * removed by the same plan) are left to that decision.
 *
 * A full backend leaves only while another one can take callers. When every backend is full, all
 * stay in (or come back): a Service without endpoints refuses callers at once, while on a full
 * backend they wait for a slot, as Unmute makes them, until the scale-up's new backend is Ready
 * and the full ones leave again.
 */
export function rotationChanges(pods: ComponentPod[], until: number, exclude: ReadonlySet<string> = new Set()): RotationChanges {
  const out: RotationChanges = { toFull: [], toRotation: [] };
  const anyOpen = pods.some((p) => !exclude.has(p.name) && open(p, until));
  for (const p of pods) {
    if (!inService(p) || exclude.has(p.name)) continue;
    if (!anyOpen) {
      if (p.full) out.toRotation.push(p.name);
      continue;
    }
    if (!p.full && p.load !== undefined && p.load >= until) out.toFull.push(p.name);
    else if (p.full && (p.load === undefined || p.load < until)) out.toRotation.push(p.name);
  }
  return out;
}

/**
 * Load-aware routing turned off: every backend still labelled full rejoins rotation now. Without
 * this, a backend that was full when the switch flipped would stay out of its Service for good (no
 * rotation pass reads it any more).
 */
export function rotationOff(pods: ComponentPod[], exclude: ReadonlySet<string> = new Set()): RotationChanges {
  return { toFull: [], toRotation: pods.filter((p) => inService(p) && p.full === true && !exclude.has(p.name)).map((p) => p.name) };
}

/** Free slots on backends in rotation with a fresh reading: what a new caller can get at once. */
export function freeSlots(pods: ComponentPod[], until: number): number {
  return pods.filter((p) => inService(p) && !p.full && p.load !== undefined).reduce((n, p) => n + Math.max(0, until - (p.load ?? 0)), 0);
}

/** Backends one session from full, or full: read these fast, so a change is acted on within a second. */
export function hotPods(pods: ComponentPod[], until: number): string[] {
  return pods.filter((p) => inService(p) && (p.full || (p.load !== undefined && p.load >= until - 1))).map((p) => p.name);
}
