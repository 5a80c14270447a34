// Resolving paths inside a container's root filesystem without ever leaving
// it: symlinks are followed as a chroot would, with ".." and absolute targets
// clamped at the root.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function resolveInRoot(root: string, p: string, followFinal = true): string {
  const parts = p.split('/').filter((s) => s && s !== '.');
  let resolved: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink() && (parts.length > 0 || followFinal)) {
      if (++hops > 255) throw Object.assign(new Error(`too many levels of symbolic links: ${p}`), { code: 'ELOOP' });
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved = [];
      parts.unshift(...target.split('/').filter((s) => s && s !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/** Reads a small file inside the root; undefined when missing. */
export function readFileInRoot(root: string, p: string): string | undefined {
  try {
    return fs.readFileSync(resolveInRoot(root, p), 'utf8');
  } catch {
    return undefined;
  }
}
