// The CLI's face of src/common/reference.ts (one parser for daemon and CLI):
// re-exports it and adds what the docker CLI 28 (distribution/reference
// v0.6) does differently on the client side: a first component with
// upper-case letters is a registry host ("Foo/bar"), and the lower-case
// error names the repository ("repository name (library/Foo) must be lowercase").
import * as common from '../common/reference';

export type { Reference } from '../common/reference';
export { DEFAULT_DOMAIN, familiarName, familiarString, tagNameOnly } from '../common/reference';
export { refName as fullName, refString as referenceString } from '../common/reference';

/** splitDockerDomain's host test, v0.6 flavour: a dot, a colon, "localhost", or any upper-case letter. */
function splitDomain(s: string): [domain: string | undefined, rest: string] {
  const i = s.indexOf('/');
  if (i < 0) return [undefined, s];
  const first = s.slice(0, i);
  if (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first) return [first, s.slice(i + 1)];
  return [undefined, s];
}

/** ParseNormalizedNamed as the docker CLI 28 parses and words it. */
export function parseNormalizedNamed(s: string): common.Reference {
  if (/^[a-f0-9]{64}$/.test(s)) return common.parseNormalizedNamed(s); // the 64-hex refusal
  const [domain, rest] = splitDomain(s);
  const colon = rest.indexOf(':');
  let remote = colon >= 0 ? rest.slice(0, colon) : rest;
  const hub = domain === undefined || domain === 'docker.io' || domain === 'index.docker.io';
  if (hub && !remote.includes('/')) remote = `library/${remote}`;
  if (remote.toLowerCase() !== remote) throw new Error(`invalid reference format: repository name (${remote}) must be lowercase`);
  // An upper-case host is not one the shared parser splits off; the grammar itself accepts it.
  if (domain !== undefined && domain.toLowerCase() !== domain && !/[.:]/.test(domain)) return common.parseStored(s);
  return common.parseNormalizedNamed(s);
}

/** stringid.TruncateID: drops an algorithm prefix and keeps 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}
