// The CLI's face of src/common/reference.ts (one parser for daemon and CLI):
// re-exports it, adds the CLI-only helpers, and words the one error whose
// text the docker CLI 28 (distribution/reference v0.6) prints differently.
import * as common from '../common/reference';

export type { Reference } from '../common/reference';
export { DEFAULT_DOMAIN, familiarName, familiarString, tagNameOnly } from '../common/reference';
export { refName as fullName, refString as referenceString } from '../common/reference';

/** ParseNormalizedNamed with the docker CLI's wording ("repository name (library/Foo) must be lowercase"). */
export function parseNormalizedNamed(s: string): common.Reference {
  try {
    return common.parseNormalizedNamed(s);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg === 'invalid reference format: repository name must be lowercase') {
      // Only the remote part (before any tag) is named, normalised like the parser does.
      const slash = s.indexOf('/');
      const first = slash >= 0 ? s.slice(0, slash) : '';
      const hasDomain = slash >= 0 && (/[.:]/.test(first) || first === 'localhost');
      let rest = hasDomain ? s.slice(slash + 1) : s;
      const colon = rest.indexOf(':');
      if (colon >= 0) rest = rest.slice(0, colon);
      const isHub = !hasDomain || first === 'docker.io' || first === 'index.docker.io';
      if (isHub && !rest.includes('/')) rest = `library/${rest}`;
      throw new Error(`invalid reference format: repository name (${rest}) must be lowercase`);
    }
    throw e;
  }
}

/** stringid.TruncateID: drops an algorithm prefix and keeps 12 characters. */
export function truncateId(id: string): string {
  const i = id.indexOf(':');
  const s = i >= 0 ? id.slice(i + 1) : id;
  return s.length > 12 ? s.slice(0, 12) : s;
}
