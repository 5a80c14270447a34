// Errors raised by the API client. Messages follow the Go client's wording
// because scripts grep for them ("Error response from daemon: ...").

/** The daemon answered with a status >= 400. */
export class ApiError extends Error {
  readonly status: number;
  /** The daemon's own message (body `message`), without the prefix. */
  readonly daemonMessage: string;
  constructor(status: number, daemonMessage: string, opts?: { raw?: boolean }) {
    super(opts?.raw ? daemonMessage : `Error response from daemon: ${daemonMessage}`);
    this.name = 'ApiError';
    this.status = status;
    this.daemonMessage = daemonMessage;
  }
}

/** The daemon could not be reached at all. */
export class ConnectionError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'ConnectionError';
    this.code = code;
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}

export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.status === 409;
}

export function statusText(code: number): string {
  return STATUS_TEXT[code] ?? '';
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 500: 'Internal Server Error',
  501: 'Not Implemented', 503: 'Service Unavailable',
};
