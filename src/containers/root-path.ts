// Paths inside a container's root filesystem, resolved as a chroot would
// (symlinks followed, ".." and absolute targets clamped at the root): the one
// implementation in src/common/archive.ts.
import * as fs from 'node:fs';
import { resolveInRoot as resolve } from '../common/archive';

export function resolveInRoot(root: string, p: string, followFinal = true): string {
  return resolve(root, p, { followLast: followFinal });
}

/** Reads a small file inside the root; undefined when missing. */
export function readFileInRoot(root: string, p: string): string | undefined {
  try {
    return fs.readFileSync(resolveInRoot(root, p), 'utf8');
  } catch {
    return undefined;
  }
}
