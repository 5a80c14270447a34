// Docker image references (github.com/docker/distribution/reference, as vendored
// by Docker 20.10): parsing, normalisation (`busybox` → docker.io/library/busybox)
// and the "familiar" short form used for display. Error texts are Docker's,
// because clients and scripts match on them.
import { invalid } from './errors';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar, built from the same pieces as distribution/reference/regexp.go.
const alphaNumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]*)';
const pathComponent = `${alphaNumeric}(?:${separator}${alphaNumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domain = `${domainComponent}(?:\\.${domainComponent})*(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const namePat = `(?:${domain}/)?${pathComponent}(?:/${pathComponent})*`;
const referenceRe = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredNameRe = new RegExp(`^(?:(${domain})/)?(${pathComponent}(?:/${pathComponent})*)$`);
const anchoredTagRe = new RegExp(`^${tagPat}$`);
const anchoredIdRe = /^[a-f0-9]{64}$/;

/** A parsed, normalised reference: always has a domain (docker.io by default). */
export interface Reference {
  domain: string;
  /** Repository path inside the domain, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  /** `algorithm:hex`, e.g. `sha256:...`. */
  digest?: string;
}

const digestLengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

function validateDigest(d: string): void {
  const i = d.indexOf(':');
  const alg = d.slice(0, i);
  const hex = d.slice(i + 1);
  const want = digestLengths[alg];
  if (want === undefined) throw invalid('unsupported digest algorithm');
  if (hex.length !== want) throw invalid('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw invalid('invalid checksum digest format');
}

/** distribution's Parse: no normalisation; errors as Docker words them. */
function parse(s: string): Reference {
  const m = referenceRe.exec(s);
  if (!m) {
    if (s === '') throw invalid('repository name must have at least one component');
    if (referenceRe.test(s.toLowerCase())) throw invalid('repository name must be lowercase');
    throw invalid('invalid reference format');
  }
  const name = m[1] ?? '';
  if (name.length > NAME_TOTAL_LENGTH_MAX) throw invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  const nm = anchoredNameRe.exec(name);
  const ref: Reference = { domain: nm?.[1] ?? '', path: nm?.[2] ?? name };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    validateDigest(m[3]);
    ref.digest = m[3];
  }
  return ref;
}

function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let dom: string;
  let rest: string;
  if (i === -1 || (!/[.:]/.test(name.slice(0, i)) && name.slice(0, i) !== 'localhost')) {
    dom = DEFAULT_DOMAIN;
    rest = name;
  } else {
    dom = name.slice(0, i);
    rest = name.slice(i + 1);
  }
  if (dom === LEGACY_DEFAULT_DOMAIN) dom = DEFAULT_DOMAIN;
  if (dom === DEFAULT_DOMAIN && !rest.includes('/')) rest = OFFICIAL_REPO_PREFIX + rest;
  return [dom, rest];
}

/** Docker's ParseNormalizedNamed: `busybox` → docker.io/library/busybox (no default tag added). */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdRe.test(s)) throw invalid(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  const [dom, rest] = splitDockerDomain(s);
  const tagSep = rest.indexOf(':');
  const remote = tagSep > -1 ? rest.slice(0, tagSep) : rest;
  if (remote.toLowerCase() !== remote) throw invalid('invalid reference format: repository name must be lowercase');
  return parse(`${dom}/${rest}`);
}

/** Result of ParseAnyReference: a bare image ID / digest, or a name. */
export type AnyReference = { kind: 'id'; digest: string } | { kind: 'named'; ref: Reference };

/** Docker's ParseAnyReference: a 64-hex string or `sha256:<64 hex>` is an ID; anything else a name. */
export function parseAnyReference(s: string): AnyReference {
  if (anchoredIdRe.test(s)) return { kind: 'id', digest: `sha256:${s}` };
  if (/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(s)) {
    // A full digest; an invalid-length one falls through to name parsing like Docker.
    try {
      validateDigest(s);
      return { kind: 'id', digest: s };
    } catch {
      /* parsed as a name below */
    }
  }
  return { kind: 'named', ref: parseNormalizedNamed(s) };
}

/** Adds `:latest` when a reference has neither tag nor digest. */
export function tagNameOnly(r: Reference): Reference {
  return r.tag === undefined && r.digest === undefined ? { ...r, tag: 'latest' } : r;
}

/** Replaces the tag (and drops any digest), validating it like Docker's WithTag. */
export function withTag(r: Reference, tag: string): Reference {
  if (!anchoredTagRe.test(tag)) throw invalid('invalid tag format');
  return { domain: r.domain, path: r.path, tag };
}

/** Drops tag and digest. */
export function trimNamed(r: Reference): Reference {
  return { domain: r.domain, path: r.path };
}

/** Full repository name: `docker.io/library/busybox`. */
export function refName(r: Reference): string {
  return r.domain ? `${r.domain}/${r.path}` : r.path;
}

/** Full string form: `docker.io/library/busybox:latest[@sha256:...]`. */
export function refString(r: Reference): string {
  return refName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Short repository name as Docker displays it: `busybox`, `user/app`, `127.0.0.1:5000/x`. */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return refName(r);
  const p = r.path;
  if (p.startsWith(OFFICIAL_REPO_PREFIX) && !p.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) return p.slice(OFFICIAL_REPO_PREFIX.length);
  return p;
}

/** Familiar string form: `busybox:latest`, `127.0.0.1:5000/x:1`, `x@sha256:...`. */
export function familiarString(r: Reference): string {
  return familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Parses and normalises a user-given name to the canonical stored key (`docker.io/library/x:latest`). */
export function normalizeReference(s: string): string {
  return refString(tagNameOnly(parseNormalizedNamed(s)));
}

/** Parses a stored (already normalised) key back into a Reference. */
export function parseStored(s: string): Reference {
  return parse(s);
}

/**
 * Go's path.Match: `*` matches any run of non-`/`, `?` one non-`/` character,
 * `[...]` a class (with `^` negation and ranges), `\` escapes. Throws on a bad pattern.
 */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw invalid('syntax error in pattern');
      re += escapeRe(pattern[i] ?? '');
    } else if (c === '[') {
      const end = findClassEnd(pattern, i);
      let body = pattern.slice(i + 1, end);
      let neg = false;
      if (body.startsWith('^')) {
        neg = true;
        body = body.slice(1);
      }
      if (body === '') throw invalid('syntax error in pattern');
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        const b = body[j] ?? '';
        if (b === '\\') {
          j++;
          cls += escapeRe(body[j] ?? '');
        } else if (b === '-' && cls !== '' && j + 1 < body.length) cls += '-';
        else cls += escapeRe(b);
      }
      re += neg ? `[^/${cls}]` : `[${cls}]`;
      i = end;
    } else re += escapeRe(c);
  }
  let compiled: RegExp;
  try {
    compiled = new RegExp(re + '$', 's');
  } catch {
    throw invalid('syntax error in pattern');
  }
  return compiled.test(name);
}

function findClassEnd(p: string, start: number): number {
  for (let j = start + 1; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === ']' && j > start + 1) return j;
  }
  throw invalid('syntax error in pattern');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** Docker's FamiliarMatch (the images `reference` filter): glob against the familiar string, then the familiar name. */
export function familiarMatch(pattern: string, r: Reference): boolean {
  if (pathMatch(pattern, familiarString(r))) return true;
  return pathMatch(pattern, familiarName(r));
}
