// The single place where error kinds become HTTP status codes (as moby's httpstatus).
import { EngineError, type ErrorKind } from '../common/errors';

const statusOf: Record<ErrorKind, number> = {
  not_found: 404,
  invalid_argument: 400,
  failed_precondition: 400,
  conflict: 409,
  already_exists: 409,
  not_modified: 304,
  unauthorized: 401,
  forbidden: 403,
  unavailable: 503,
  not_implemented: 501,
  internal: 500,
};

export function httpStatus(e: unknown): number {
  if (e instanceof EngineError) return statusOf[e.kind];
  if (e instanceof SyntaxError) return 400; // malformed JSON bodies
  return 500;
}

export function errorBody(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return JSON.stringify({ message });
}
