// Persistence: one JSON file per network (its configuration, immutable after
// create) and one per running container (its endpoints and ports: the IP
// leases). Every write is atomic (atomic-fs); a lease file is on disk before
// its container starts, so an address is never handed out twice across a
// crash, and leases of containers that are gone are dropped at start-up.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanTempFiles, readJson, writeJsonAtomic } from '../common/atomic-fs';
import { log } from '../common/log';
import type { NetworkRecord, SandboxState } from './types';

const idRe = /^[0-9a-f]{64}$/;

export class NetStore {
  private readonly netDir: string;
  private readonly epDir: string;

  constructor(root: string) {
    this.netDir = path.join(root, 'networks');
    this.epDir = path.join(root, 'endpoints');
  }

  init(): void {
    for (const d of [this.netDir, this.epDir]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      cleanTempFiles(d);
    }
  }

  loadNetworks(): NetworkRecord[] {
    const out: NetworkRecord[] = [];
    for (const f of fs.readdirSync(this.netDir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = readJson(path.join(this.netDir, f)) as NetworkRecord | undefined;
        if (r && typeof r.Id === 'string' && idRe.test(r.Id) && typeof r.Name === 'string' && `${r.Id}.json` === f) out.push(r);
        else log.warn('ignoring malformed network file', { file: f });
      } catch (e) {
        log.warn('ignoring unreadable network file', { file: f, err: e });
      }
    }
    return out;
  }

  saveNetwork(n: NetworkRecord): void {
    writeJsonAtomic(path.join(this.netDir, `${n.Id}.json`), n);
  }

  removeNetwork(id: string): void {
    fs.rmSync(path.join(this.netDir, `${id}.json`), { force: true });
  }

  loadSandboxes(): Map<string, SandboxState> {
    const out = new Map<string, SandboxState>();
    for (const f of fs.readdirSync(this.epDir)) {
      const id = f.replace(/\.json$/, '');
      if (!idRe.test(id)) continue;
      try {
        const s = readJson(path.join(this.epDir, f)) as SandboxState | undefined;
        if (s && Array.isArray(s.endpoints)) out.set(id, s);
      } catch (e) {
        log.warn('ignoring unreadable endpoint file', { file: f, err: e });
        fs.rmSync(path.join(this.epDir, f), { force: true });
      }
    }
    return out;
  }

  /** Durable before it returns (fsync of file and directory). */
  saveSandbox(containerId: string, s: SandboxState): void {
    writeJsonAtomic(path.join(this.epDir, `${containerId}.json`), s);
  }

  hasSandbox(containerId: string): boolean {
    return fs.existsSync(path.join(this.epDir, `${containerId}.json`));
  }

  /** Not fsynced: a lease file that survives a crash only holds its addresses until the next start-up sweeps it. */
  removeSandbox(containerId: string): void {
    fs.rmSync(path.join(this.epDir, `${containerId}.json`), { force: true });
  }
}
