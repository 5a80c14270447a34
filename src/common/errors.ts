// One error type for the whole engine. Core code throws kinds; only the API
// layer (src/api/errors.ts) turns a kind into an HTTP status.

export type ErrorKind =
  | 'not_found'
  | 'invalid_argument'
  | 'failed_precondition'
  | 'conflict'
  | 'already_exists'
  | 'not_modified'
  | 'unauthorized'
  | 'forbidden'
  | 'unavailable'
  | 'not_implemented'
  | 'internal';

export class EngineError extends Error {
  readonly kind: ErrorKind;
  /** Exit code hint for start failures (127 not found, 126 not executable). */
  readonly hint?: string;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.kind = kind;
    if (options?.hint !== undefined) this.hint = options.hint;
    this.name = 'EngineError';
  }
}

export const notFound = (msg: string): EngineError => new EngineError('not_found', msg);
export const invalid = (msg: string): EngineError => new EngineError('invalid_argument', msg);
export const conflict = (msg: string): EngineError => new EngineError('conflict', msg);
export const notModified = (msg = ''): EngineError => new EngineError('not_modified', msg);
export const forbidden = (msg: string): EngineError => new EngineError('forbidden', msg);
export const unauthorized = (msg: string): EngineError => new EngineError('unauthorized', msg);
export const notImplemented = (msg: string): EngineError => new EngineError('not_implemented', msg);
export const unavailable = (msg: string): EngineError => new EngineError('unavailable', msg);
export const internal = (msg: string, cause?: unknown): EngineError => new EngineError('internal', msg, { cause });

export function isEngineError(e: unknown): e is EngineError {
  return e instanceof EngineError;
}

/** errno code of a Node system error, or undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = (e as { code: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  }
  return undefined;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
