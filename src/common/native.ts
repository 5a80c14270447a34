// Typed face of the native addon (native/berth_native.c): system calls Node lacks.
import * as path from 'node:path';

export interface Native extends Partial<NativeGunzip> {
  mount(source: string, target: string, fstype: string | null, flags: number, data?: string | null): void;
  /** mount(2) with the cwd set to dir, so overlay options may use relative paths. */
  mountAt(dir: string, source: string, target: string, fstype: string | null, flags: number, data?: string | null): void;
  umount(target: string, flags?: number): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  flock(fd: number, op: number): void;
  /** syncfs(2) on the filesystem holding path */
  syncfs(path: string): void;
  /** syncfs(2) on libuv's thread pool */
  syncfsAsync(path: string): Promise<void>;
  /** malloc_trim(0): true when memory went back to the kernel */
  mallocTrim(): boolean;
}

/** The addon's gzip decoder (native/berth_native.c), present when it was built with ISA-L (see common/gunzip.ts). */
export interface NativeGunzip {
  gunzipNew(): GunzipHandle;
  /** Decodes from input[inOff..] into output[outOff..]: [input bytes used, output bytes written, 1 when a member ended]. */
  gunzipRun(h: GunzipHandle, input: Uint8Array, inOff: number, output: Uint8Array, outOff: number): [number, number, number];
  /** Starts the next member. */
  gunzipReset(h: GunzipHandle): void;
  /** Frees the decoder now. */
  gunzipEnd(h: GunzipHandle): void;
}
declare const gunzipBrand: unique symbol;
export type GunzipHandle = { readonly [gunzipBrand]: true };

export const LOCK_EX = 2;
export const LOCK_NB = 4;

export const MS_RDONLY = 1;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 2;
export const S_IFCHR = 0o020000;

/** Directory holding build artefacts (native addon, attach bridge). */
export function buildDir(): string {
  // dist/*.js and src/**/*.ts both sit two levels or less below the repo root.
  const env = process.env['BERTH_BUILD_DIR'];
  if (env) return env;
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'build');
    try {
      require('node:fs').accessSync(path.join(candidate, 'berth_native.node'));
      return candidate;
    } catch {
      dir = path.dirname(dir);
    }
  }
  return path.join(__dirname, '..', 'build');
}

let cached: Native | undefined;
export function native(): Native {
  if (!cached) {
    // require of a .node file built by `make build`; its shape is declared above.
    cached = require(path.join(buildDir(), 'berth_native.node')) as Native;
  }
  return cached;
}
