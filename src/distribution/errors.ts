// Registry error responses (the distribution spec's {"errors":[{code,message,detail}]}
// envelope) rendered as docker/distribution's errcode package renders them,
// e.g. "manifest unknown: manifest unknown", "denied: requested access to the
// resource is denied", so messages read exactly like Docker's.

export interface RegistryErrorItem {
  code: string;
  message: string;
}

/** Parses the error envelope; undefined when the body is not one. */
export function parseRegistryErrors(body: Buffer): RegistryErrorItem[] | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null) return undefined;
    const errs = (v as { errors?: unknown }).errors;
    if (!Array.isArray(errs)) {
      // Some token servers answer {"details": "..."} or {"error": "..."}.
      const o = v as Record<string, unknown>;
      const msg = typeof o['details'] === 'string' ? o['details'] : typeof o['error'] === 'string' ? o['error'] : undefined;
      return msg ? [{ code: '', message: msg }] : undefined;
    }
    return errs.map((e: unknown) => {
      const o = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
      return { code: typeof o['code'] === 'string' ? o['code'] : 'UNKNOWN', message: typeof o['message'] === 'string' ? o['message'] : '' };
    });
  } catch {
    return undefined;
  }
}

/** errcode.Error.Error(): "<code lowercased, _ → space>: <message>". */
export function errcodeString(e: RegistryErrorItem): string {
  if (!e.code) return e.message;
  const code = e.code.toLowerCase().replace(/_/g, ' ');
  return e.message ? `${code}: ${e.message}` : code;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Request Entity Too Large', 416: 'Requested Range Not Satisfiable', 429: 'Too Many Requests', 500: 'Internal Server Error',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function statusText(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? ''}`.trim();
}

/** The text Docker shows for a failed registry response. */
export function registryErrorText(status: number, body: Buffer): string {
  const errs = parseRegistryErrors(body);
  if (errs && errs.length === 1) return errcodeString(errs[0]!);
  if (errs && errs.length > 1) return `errors:\n${errs.map(errcodeString).join('\n')}\n`;
  if (status === 401) return 'unauthorized: authentication required';
  if (status === 403) return 'denied: requested access to the resource is denied';
  if (status === 429) return 'toomanyrequests: too many requests';
  return `received unexpected HTTP status: ${statusText(status)}`;
}

/** The first error code in a response (MANIFEST_UNKNOWN, NAME_UNKNOWN, DENIED, ...). */
export function registryErrorCode(status: number, body: Buffer): string | undefined {
  const errs = parseRegistryErrors(body);
  if (errs && errs[0]?.code) return errs[0].code;
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  return undefined;
}

/** An error response from a registry, keeping the status and code so callers can decide (fallback, not-found wording). */
export class RegistryError extends Error {
  constructor(message: string, readonly status: number, readonly code: string | undefined, readonly text: string) {
    super(message);
    this.name = 'RegistryError';
  }
}
