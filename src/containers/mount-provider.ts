// The seam between containers and their mounts: bind mounts, tmpfs and (with
// src/volumes) named and anonymous volumes. The container service calls these
// at create, start, inspect and rm.
import * as fs from 'node:fs';
import { invalid } from '../common/errors';
import type { OciMount } from '../runtime';
import type { ContainerRecord } from './types';

export interface MountProvider {
  /**
   * At create: validate HostConfig.Binds/Mounts/Tmpfs/VolumesFrom and the
   * image's VOLUMEs, create what must exist (named/anonymous volumes) and
   * record the result in rec.MountPoints. Throws invalid() with Docker's wording.
   */
  prepare(rec: ContainerRecord, imageVolumes: Record<string, object> | null | undefined): Promise<void>;
  /** At start, with the container's root filesystem mounted at rootfs: the OCI mounts (copy-up into empty volumes happens here). */
  ociMounts(rec: ContainerRecord, rootfs: string): Promise<OciMount[]>;
  /** After the container stopped (its rootfs unmounted), before its `die` event: Docker's UnmountVolumes. */
  stopped?(rec: ContainerRecord): void;
    /** At rm: drop references; with removeVolumes, delete the container's anonymous volumes. */
  release(rec: ContainerRecord, removeVolumes: boolean): Promise<void>;
  /** inspect's and ps's Mounts. */
  inspect(rec: ContainerRecord): unknown[];
}

export interface BindSpec { src: string; dst: string; ro: boolean; propagation?: string; mode: string }

/** `-v /host:/ctr[:opts]`; named volumes are left to a volume-aware provider. */
export function parseBind(b: string, allowNamed = false): BindSpec & { named: boolean } {
  const parts = b.split(':');
  if (parts.length < 2 || parts.length > 3) throw invalid(`invalid volume specification: '${b}'`);
  const [src = '', dst = '', mode = ''] = parts;
  if (!dst.startsWith('/')) throw invalid(`invalid volume specification: '${b}': invalid mount config for type "bind": invalid mount path: '${dst}' mount path must be absolute`);
  const named = !src.startsWith('/');
  if (named && !allowNamed) throw invalid(`invalid volume specification: '${b}': named volumes are not supported yet`);
  const opts = mode ? mode.split(',') : [];
  for (const o of opts) if (!['ro', 'rw', 'z', 'Z', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'nocopy', 'consistent', 'cached', 'delegated'].includes(o)) throw invalid(`invalid mode: ${o}`);
  const propagation = opts.find((o) => /^r?(shared|slave|private)$/.test(o));
  return { src, dst, ro: opts.includes('ro'), mode, named, ...(propagation ? { propagation } : {}) };
}

/** Binds and tmpfs only: what berth supports before volumes exist. */
export class BindOnlyMounts implements MountProvider {
  async prepare(rec: ContainerRecord): Promise<void> {
    for (const b of rec.HostConfig.Binds ?? []) parseBind(b);
    for (const m of rec.HostConfig.Mounts ?? []) {
      if (m.Type !== 'bind' && m.Type !== 'tmpfs') throw invalid(`mount type ${m.Type} is not supported yet`);
      if (m.Type === 'bind' && (!m.Source || !fs.existsSync(m.Source))) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.Source ?? ''}`);
    }
  }

  async ociMounts(rec: ContainerRecord): Promise<OciMount[]> {
    const hc = rec.HostConfig;
    const mounts: OciMount[] = [];
    for (const b of hc.Binds ?? []) {
      const p = parseBind(b);
      // -v creates a missing host directory, as Docker does (--mount refuses).
      if (!fs.existsSync(p.src)) fs.mkdirSync(p.src, { recursive: true, mode: 0o755 });
      mounts.push({ destination: p.dst, type: 'bind', source: p.src, options: ['rbind', p.propagation ?? 'rprivate', p.ro ? 'ro' : 'rw'] });
    }
    for (const m of hc.Mounts ?? []) {
      if (m.Type === 'bind') {
        if (!m.Source || !fs.existsSync(m.Source)) throw invalid(`invalid mount config for type "bind": bind source path does not exist: ${m.Source ?? ''}`);
        mounts.push({ destination: m.Target, type: 'bind', source: m.Source, options: ['rbind', m.BindOptions?.Propagation ?? 'rprivate', m.ReadOnly ? 'ro' : 'rw'] });
      } else if (m.Type === 'tmpfs') {
        const o = ['nosuid', 'nodev', 'noexec'];
        if (m.TmpfsOptions?.SizeBytes) o.push(`size=${m.TmpfsOptions.SizeBytes}`);
        if (m.TmpfsOptions?.Mode) o.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
        mounts.push({ destination: m.Target, type: 'tmpfs', source: 'tmpfs', options: o });
      }
    }
    for (const [dst, opts] of Object.entries(hc.Tmpfs ?? {})) {
      mounts.push({ destination: dst, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(opts ? opts.split(',') : [])] });
    }
    return mounts;
  }

  async release(): Promise<void> { /* nothing owned */ }

  inspect(rec: ContainerRecord): unknown[] {
    const out: unknown[] = [];
    for (const b of rec.HostConfig.Binds ?? []) {
      const p = parseBind(b);
      out.push({ Type: 'bind', Source: p.src, Destination: p.dst, Mode: p.mode, RW: !p.ro, Propagation: p.propagation ?? 'rprivate' });
    }
    for (const m of rec.HostConfig.Mounts ?? []) {
      out.push({ Type: m.Type, Source: m.Source ?? '', Destination: m.Target, Mode: '', RW: !m.ReadOnly, Propagation: m.Type === 'bind' ? (m.BindOptions?.Propagation ?? 'rprivate') : '' });
    }
    for (const dst of Object.keys(rec.HostConfig.Tmpfs ?? {})) out.push({ Type: 'tmpfs', Source: '', Destination: dst, Mode: '', RW: true, Propagation: '' });
    return out;
  }
}
