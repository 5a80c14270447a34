// Assertions on command results that explain themselves when they fail.
import * as assert from 'node:assert/strict';
import { describeResult, type RunResult } from './proc';

/** Asserts the exit code (default 0) and returns the result for chaining. */
export function expectCode(r: RunResult, code: number, what: string): RunResult {
  assert.equal(r.code, code, `expected exit ${code}: ${describeResult(what, r)}`);
  return r;
}

export function expectOk(r: RunResult, what: string): RunResult {
  return expectCode(r, 0, what);
}

/** Asserts success and returns trimmed stdout. */
export function okOut(r: RunResult, what: string): string {
  return expectOk(r, what).stdout.trim();
}

export function expectMatch(text: string, re: RegExp, what: string): void {
  assert.match(text, re, `${what}: ${JSON.stringify(text.slice(-3000))} does not match ${re}`);
}
