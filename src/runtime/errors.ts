// Error types shared by the runtime: the controller loop decides retry, quiet requeue or stop from these.
import { z } from 'zod';

/** A reconcile failure that retrying cannot fix (bad spec, missing permission by design): recorded, not retried. */
export class TerminalError extends Error {
  override name = 'TerminalError';
  /** Short CamelCase reason for a condition or Event, e.g. `InvalidSpec`. */
  readonly reason: string;
  constructor(message: string, options: { reason?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = options.reason ?? 'TerminalError';
  }
}

/** One entry of a Status's `details.causes` (e.g. a field a 422 Invalid rejected). */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

const statusCauseSchema = z.object({
  reason: z.string().optional(),
  message: z.string().optional(),
  field: z.string().optional(),
});

/** The metav1.Status body the API server sends with every failed request (and in watch ERROR events). */
export const statusSchema = z.object({
  kind: z.literal('Status'),
  status: z.string().optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  code: z.number().int().optional(),
  details: z
    .object({
      name: z.string().optional(),
      group: z.string().optional(),
      kind: z.string().optional(),
      uid: z.string().optional(),
      causes: z.array(statusCauseSchema).optional(),
      retryAfterSeconds: z.number().optional(),
    })
    .optional(),
});
export type Status = z.infer<typeof statusSchema>;

/** A non-2xx answer from the API server, with the parsed Status when the body carried one. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  /** HTTP status code (404, 409, 410, 422, ...). */
  readonly code: number;
  /** Status reason (`NotFound`, `Conflict`, `AlreadyExists`, `Invalid`, `Expired`, `Gone`, ...); '' when absent. */
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  /** `METHOD path` of the failed request, for logs. */
  readonly request: string | undefined;

  constructor(init: { code: number; reason?: string; message: string; details?: StatusDetails; request?: string }) {
    super(init.message);
    this.code = init.code;
    this.reason = init.reason ?? '';
    this.details = init.details;
    this.request = init.request;
  }

  /** Builds the error from a response body: a Status when it parses as one, else the raw text. */
  static fromResponse(code: number, body: string, request?: string): KubeApiError {
    let parsed: Status | undefined;
    try {
      const result = statusSchema.safeParse(JSON.parse(body));
      if (result.success) parsed = result.data;
    } catch {
      // not JSON: keep the text as the message
    }
    if (parsed !== undefined) {
      return new KubeApiError({
        code: parsed.code ?? code,
        reason: parsed.reason,
        message: parsed.message ?? `HTTP ${code}`,
        details: parsed.details,
        request,
      });
    }
    const text = body.trim().slice(0, 500);
    return new KubeApiError({ code, message: text === '' ? `HTTP ${code}` : text, request });
  }

  /** Builds the error from a watch ERROR event's Status object. */
  static fromStatus(status: Status, request?: string): KubeApiError {
    return new KubeApiError({
      code: status.code ?? 500,
      reason: status.reason,
      message: status.message ?? 'watch error',
      details: status.details,
      request,
    });
  }
}

/** The first KubeApiError in `err`'s cause chain, so wrapped errors keep their type. */
export function findKubeApiError(err: unknown): KubeApiError | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (current instanceof KubeApiError) return current;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

/** The first TerminalError in `err`'s cause chain. */
export function findTerminalError(err: unknown): TerminalError | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (current instanceof TerminalError) return current;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}

/** 409 from an optimistic-concurrency clash (apimachinery IsConflict: reason Conflict, not AlreadyExists). */
export function isConflict(err: unknown): boolean {
  const api = findKubeApiError(err);
  if (api === undefined) return false;
  return api.reason === 'Conflict' || (api.code === 409 && api.reason === '');
}

export function isAlreadyExists(err: unknown): boolean {
  const api = findKubeApiError(err);
  return api !== undefined && (api.reason === 'AlreadyExists' || (api.code === 409 && api.reason === 'AlreadyExists'));
}

export function isNotFound(err: unknown): boolean {
  const api = findKubeApiError(err);
  return api !== undefined && (api.reason === 'NotFound' || (api.code === 404 && api.reason === ''));
}

/** 422: the object failed validation; `details.causes` names the fields. */
export function isInvalid(err: unknown): boolean {
  const api = findKubeApiError(err);
  return api !== undefined && (api.reason === 'Invalid' || api.code === 422);
}

/** The resourceVersion is too old (410 Gone / reason Expired): the reflector must relist. */
export function isResourceExpired(err: unknown): boolean {
  const api = findKubeApiError(err);
  return api !== undefined && (api.code === 410 || api.reason === 'Expired' || api.reason === 'Gone');
}

/**
 * Adds context while keeping the original as `cause`: `wrapError('apply stt Service', err)`.
 * The message stays constant; pino's err serializer appends the cause chain (`outer: inner`).
 */
export function wrapError(message: string, cause: unknown): Error {
  return new Error(message, { cause });
}

/** 403: the caller lacks the RBAC for this request. */
export function isForbidden(err: unknown): boolean {
  const api = findKubeApiError(err);
  return api !== undefined && api.code === 403;
}

/**
 * 403 because the namespace is being deleted (cause NamespaceTerminating): nothing new can be
 * created there, and nothing needs to be; the garbage collector takes what is left.
 */
export function isNamespaceTerminating(err: unknown): boolean {
  const api = findKubeApiError(err);
  return api !== undefined && api.code === 403 && (api.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}

/** A one-line summary of a cause chain, e.g. for an Event note: `apply stt Service: ... (Invalid 422)`. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (current instanceof KubeApiError) parts.push(`${current.message} (${current.reason || 'HTTP'} ${current.code})`);
    else parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}
