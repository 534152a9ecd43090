// Before the load, as Unmute's loadtest does: GET /v1/health must say ok (the status is 200 even
// when it is not, so the body is read), and GET /v1/voices gives the voice to ask for.
import { z } from 'zod';
import { httpBaseUrl } from '../protocol.ts';

const healthSchema = z.object({ ok: z.boolean() }).loose();
const voicesSchema = z.array(z.object({ source: z.object({ path_on_server: z.string().optional() }).loose() }).loose());

export class PreflightError extends Error {
  override name = 'PreflightError';
}

/** fetch() says only "fetch failed"; the useful part (ECONNREFUSED, ...) is in its cause. */
function reason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

export async function checkHealth(url: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const healthUrl = `${httpBaseUrl(url)}/v1/health`;
  let res: Response;
  try {
    res = await fetch(healthUrl, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new PreflightError(`${healthUrl}: ${reason(err)}`);
  }
  const text = await res.text();
  if (res.status !== 200) throw new PreflightError(`${healthUrl}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new PreflightError(`${healthUrl}: not JSON: ${text.slice(0, 200)}`);
  }
  const parsed = healthSchema.safeParse(body);
  if (!parsed.success) throw new PreflightError(`${healthUrl}: unexpected body ${text.slice(0, 200)}`);
  if (!parsed.data.ok) throw new PreflightError(`server is not healthy: ${text}`);
  return parsed.data;
}

/** The first voice's `source.path_on_server`, as Unmute's loadtest picks it; null if there is none. */
export async function fetchVoice(url: string, timeoutMs = 5000): Promise<string | null> {
  const voicesUrl = `${httpBaseUrl(url)}/v1/voices`;
  let res: Response;
  try {
    res = await fetch(voicesUrl, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new PreflightError(`${voicesUrl}: ${reason(err)}`);
  }
  if (res.status !== 200) throw new PreflightError(`${voicesUrl}: HTTP ${res.status}`);
  const parsed = voicesSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success) throw new PreflightError(`${voicesUrl}: not a voice list`);
  return parsed.data[0]?.source.path_on_server ?? null;
}
