// The container service: create/start/stop/kill/wait/rm/attach/logs/exec,
// state persistence and reconciliation with runc and conmon after a restart.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex, Writable } from 'node:stream';
import { writeJsonAtomic, readJson, fsyncDir } from '../common/atomic-fs';
import { conflict, EngineError, errorMessage, invalid, notFound, notModified, internal } from '../common/errors';
import type { EventSink } from '../common/events';
import { type Filters, matchLabels, checkFilterKeys } from '../common/filters';
import { generateName, newId, shortId, validContainerName } from '../common/ids';
import { execFile } from 'node:child_process';
import { log, phases } from '../common/log';
import { native, MNT_DETACH } from '../common/native';
import { defaultSeccompProfile, fromDockerProfile } from '../runtime/seccomp';
import { buildExecProcess, buildSpec, conmonCreate, conmonExec, effectiveCapabilities, Runc, type OciMount } from '../runtime';
import { attachClient, parseDetachKeys } from './attach';
import { hostsFile, resolvConf } from './etc-files';
import { followLog, parseSize, readLog, readLogs, tsFromUnix, type LogOptions } from './logs';
import { resolveInRoot } from './root-path';
import { LoopbackOnlyNetworks, type NetworkProvider } from './network-provider';
import { BindOnlyMounts, type MountProvider } from './mount-provider';
import { StatsHub, render as renderStats, sample as sampleStats } from './stats';
import { HealthMonitor, healthEnabled, mergeHealth, type HealthConfig } from './health';
import { ociResources, rlimits, updatableFields, validateResources, type Ulimit } from './resources';
import { applyDefaults, hostConfigZero, joinedContainer, validateLogOpts, mergeImageEnv, parseDeviceCgroupRule, parseSecurityOpt, replaceOrAppendEnv, validateCreate } from './hostconfig';
import { devicesFromPath, hostDevices, type OciDevice, type OciDeviceRule } from '../runtime/devices';
import { type ContainerConfig, type ContainerRecord, type HostConfig, ZERO_TIME } from './types';
import { resolveUser } from './user';

/** What the container service needs from the image store (small interface, as moby's backends). */
export interface ImageLookup {
  get(ref: string): { id: string; config: ImageConfigLike; chainIds: string[] };
  tryGet(ref: string): { id: string; repoTags: string[] } | undefined;
  snapshots: {
    prepare(key: string, parent: string | null, opts?: { durable?: boolean }): Promise<void>;
    mount(key: string, target: string): void;
    unmount(target: string): void;
    remove(key: string): Promise<void>;
    listActive(): string[];
    upperDir(key: string): string;
    /** committed layers, for GraphDriver.Data.LowerDir */
    layerPath?(chainId: string): string;
    layerChain?(chainId: string): string[];
  };
}

export interface ImageConfigLike {
  config?: {
    User?: string; Env?: string[] | null; Entrypoint?: string[] | null; Cmd?: string[] | null; WorkingDir?: string;
    Labels?: Record<string, string> | null; ExposedPorts?: Record<string, object> | null; Volumes?: Record<string, object> | null;
    StopSignal?: string; Healthcheck?: unknown; OnBuild?: string[] | null; Shell?: string[] | null;
  };
}

export interface ContainerServiceOptions {
  dataRoot: string;
  execRoot: string;
  runcPath: string;
  conmonPath: string;
  attachHelper: string;
  images: ImageLookup;
  events: EventSink;
  /** networking; defaults to private loopback-only namespaces */
  networks?: NetworkProvider;
  /** mounts and volumes; defaults to binds and tmpfs only */
  mounts?: MountProvider;
}

/** Takes over the client connection once a request is known to be valid. */
export type Hijack = () => { socket: Duplex; head: Buffer };

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  DetachKeys: string;
  CanRemove: boolean;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user: string };
  Env: string[];
  WorkingDir: string;
  started: boolean;
  /** a resize that arrived before the process existed */
  pendingSize?: [number, number];
  done: Promise<void>;
  finish: () => void;
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const signalNumbers: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** "SIGTERM", "TERM", "15", "RTMIN+3" → signal number; throws Docker's error otherwise. */
export function parseSignal(s: string): number {
  const v = s.trim().toUpperCase();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 64) throw invalid(`Invalid signal: ${s}`);
    return n;
  }
  const name = v.startsWith('SIG') ? v.slice(3) : v;
  const n = signalNumbers[name];
  if (n !== undefined) return n;
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('RTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  throw invalid(`Invalid signal: ${s}`);
}

function strArray(v: unknown, field: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v]; // Docker accepts a string for Cmd/Entrypoint (strslice)
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type []string`);
  return v as string[];
}
function strMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`json: cannot unmarshal into Go struct field ${field} of type map[string]string`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw invalid(`json: cannot unmarshal ${typeof x} into Go struct field ${field} of type string`);
    out[k] = x;
  }
  return out;
}
function bool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type bool`);
  return v;
}
function str(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type string`);
  return v;
}
function num(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type int64`);
  return v;
}

function mergeEnv(base: string[], over: string[]): string[] {
  const out = [...base];
  for (const e of over) {
    const k = e.split('=')[0];
    const i = out.findIndex((x) => x.split('=')[0] === k);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

function quoteArgs(p: string, args: string[]): string {
  if (!args.length) return p;
  return `${p} ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

function startErrorFor(message: string): EngineError {
  const full = `failed to create shim task: OCI runtime create failed: ${message}: unknown`;
  // Docker answers 400 for a command that cannot be run, 500 for the rest.
  if (/executable file not found|no such file or directory|permission denied|not a directory/.test(message)) return invalid(full);
  return internal(full);
}

function exitCodeForStartError(message: string): number {
  if (/executable file not found|no such file or directory/.test(message)) return 127;
  if (/permission denied/.test(message)) return 126;
  return 128;
}

export class ContainerService {
  private records = new Map<string, ContainerRecord>();
  /**
   * A builder's RUN containers: their records and snapshots are written
   * without fsyncs (they live for one step; after a power loss start-up drops
   * what was left empty).
   */
  private readonly ephemeral = new Set<string>();
  private names = new Map<string, string>();
  private locks = new Map<string, Promise<unknown>>();
  private exitWaiters = new Map<string, Array<(code: number) => void>>();
  private removedWaiters = new Map<string, Array<() => void>>();
  private pendingAttach = new Map<string, Array<(ok: boolean) => Promise<void>>>();
  private execs = new Map<string, ExecRecord>();
  private health = new Map<string, HealthMonitor>();
  private restartTimers = new Map<string, NodeJS.Timeout>();
  private restartDelay = new Map<string, number>();
  private stats = new StatsHub();
  private rotators = new Map<string, NodeJS.Timeout>();
  private runc: Runc;
  private exitDir: string;
  private watcher: fs.FSWatcher | undefined;
  private runcCleanup = new Map<string, Promise<unknown>>();
  private readonly o: ContainerServiceOptions;
  private readonly net: NetworkProvider;
  private readonly mnt: MountProvider;

  constructor(o: ContainerServiceOptions) {
    this.o = o;
    this.net = o.networks ?? new LoopbackOnlyNetworks();
    this.net.bind?.({ get: (r) => this.get(r), all: () => this.all(), save: (r) => this.save(r), locked: (id, fn) => this.locked(id, fn) });
    this.mnt = o.mounts ?? new BindOnlyMounts();
    this.runc = new Runc(o.runcPath, path.join(o.execRoot, 'runc'));
    this.exitDir = path.join(o.execRoot, 'exits');
  }

  // ---------- paths ----------
  private dir(id: string): string { return path.join(this.o.dataRoot, 'containers', id); }
  private bundle(id: string): string { return path.join(this.o.execRoot, 'containers', id); }
  private rootfs(id: string): string { return path.join(this.bundle(id), 'rootfs'); }
  logPath(id: string): string { return path.join(this.dir(id), 'container.log'); }

  /** Where a container's files are, for filesystem operations (cp, diff, export, commit). */
  paths(id: string): { dir: string; bundle: string; rootfs: string; upper: string } {
    return { dir: this.dir(id), bundle: this.bundle(id), rootfs: this.rootfs(id), upper: this.o.images.snapshots.upperDir(id) };
  }

  /**
   * Runs fn with the container's root filesystem mounted at paths(id).rootfs
   * (it is mounted while the container runs; a stopped one is mounted for the call).
   */
  async withRootfs<T>(ref: string, fn: (rootfs: string, rec: ContainerRecord) => Promise<T>): Promise<T> {
    const rec = this.get(ref);
    return this.locked(rec.Id, async () => {
      const rootfs = this.rootfs(rec.Id);
      if (rec.State.Running) return fn(rootfs, rec);
      fs.mkdirSync(rootfs, { recursive: true, mode: 0o700 });
      this.o.images.snapshots.mount(rec.Id, rootfs);
      try {
        return await fn(rootfs, rec);
      } finally {
        this.unmountQuiet(rootfs);
      }
    });
  }

  /** Emits a container event (for operations implemented outside this class). */
  event(ref: string, action: string, extra: Record<string, string> = {}): void {
    const rec = this.find(ref);
    if (rec) this.emit(rec, action, extra);
  }

  private save(rec: ContainerRecord): void {
    writeJsonAtomic(path.join(this.dir(rec.Id), 'config.v2.json'), rec, !this.ephemeral.has(rec.Id));
  }

  /** Serialises state changes per container. */
  private async locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  private emit(rec: ContainerRecord, action: string, extra: Record<string, string> = {}): void {
    this.o.events({
      Type: 'container',
      Action: action,
      Actor: { ID: rec.Id, Attributes: { ...rec.Config.Labels, image: rec.Config.Image, name: rec.Name.slice(1), ...extra } },
    });
  }

  // ---------- start-up ----------
  async init(): Promise<void> {
    for (const d of [path.join(this.o.dataRoot, 'containers'), path.join(this.o.execRoot, 'containers'), this.exitDir, path.join(this.o.execRoot, 'runc')]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o711 });
    }
    const base = path.join(this.o.dataRoot, 'containers');
    for (const id of fs.readdirSync(base)) {
      let rec: ContainerRecord | undefined;
      try {
        rec = readJson(path.join(base, id, 'config.v2.json')) as ContainerRecord | undefined;
      } catch (e) {
        log.warn('unreadable container record', { id, err: e }); // left empty by a power loss (a build's container)
      }
      if (!rec || typeof rec !== 'object' || rec.Id !== id) {
        // Half-created or half-removed: nothing refers to it.
        log.info('removing incomplete container directory', { id });
        fs.rmSync(path.join(base, id), { recursive: true, force: true });
        continue;
      }
      this.records.set(id, rec);
      this.names.set(rec.Name.slice(1), id);
    }
    // watch before reconciling so no exit is missed in between
    this.watcher = fs.watch(this.exitDir, (_ev, file) => {
      if (file) void this.onExitFile(file.toString());
    });
    const runcStates = new Map((await this.runc.list()).map((s) => [s.id, s]));
    for (const rec of this.records.values()) {
      const st = runcStates.get(rec.Id);
      runcStates.delete(rec.Id);
      await this.reconcile(rec, st);
    }
    // runc containers without a record (crash during rm): kill and delete them.
    for (const st of runcStates.values()) {
      log.info('deleting orphan runc container', { id: st.id });
      await this.runc.delete(st.id, true);
      this.unmountQuiet(this.rootfs(st.id));
      fs.rmSync(this.bundle(st.id), { recursive: true, force: true });
    }
    // Snapshots and bundles nobody owns.
    for (const key of this.o.images.snapshots.listActive()) {
      if (!this.records.has(key)) await this.o.images.snapshots.remove(key).catch((e: unknown) => log.warn('snapshot cleanup failed', { key, err: e }));
    }
    for (const id of fs.readdirSync(path.join(this.o.execRoot, 'containers'))) {
      if (!this.records.has(id)) {
        this.unmountQuiet(this.rootfs(id));
        fs.rmSync(this.bundle(id), { recursive: true, force: true });
      }
    }
    for (const f of fs.readdirSync(this.exitDir)) if (!this.records.has(f)) fs.rmSync(path.join(this.exitDir, f), { force: true });
    this.autoStart();
  }

  private async reconcile(rec: ContainerRecord, st: { status: string; pid: number } | undefined): Promise<void> {
    const exitFile = path.join(this.exitDir, rec.Id);
    if (fs.existsSync(exitFile)) {
      await this.onExitFile(rec.Id);
      return;
    }
    if (st && (st.status === 'running' || st.status === 'paused')) {
      // Still alive under its conmon: adopt it.
      const changed = !rec.State.Running || rec.State.Pid !== st.pid || rec.State.Paused !== (st.status === 'paused');
      rec.State = { ...rec.State, Status: st.status === 'paused' ? 'paused' : 'running', Running: true, Paused: st.status === 'paused', Pid: st.pid, Restarting: false };
      if (rec.State.StartedAt === ZERO_TIME) rec.State.StartedAt = new Date().toISOString();
      if (changed) this.save(rec);
      try {
        const spec = JSON.parse(fs.readFileSync(path.join(this.bundle(rec.Id), 'config.json'), 'utf8')) as Record<string, unknown>;
        this.startHealth(rec, spec);
      } catch { /* no bundle: no probes */ }
      this.startRotator(rec);
      await this.net.restore(rec).catch((e: unknown) => log.warn('network restore failed', { id: rec.Id, err: e }));
      return;
    }
    if (st) {
      // created but never started (crash mid-start), or stopped without exit file
      await this.runc.delete(rec.Id, true);
    }
    this.unmountQuiet(this.rootfs(rec.Id));
    await this.net.detach(rec);
    if (rec.State.Running || rec.State.Status === 'running' || rec.State.Status === 'paused' || rec.State.Status === 'restarting') {
      // Its monitor is gone (reboot, or killed): it died without telling us.
      rec.State = { ...rec.State, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: 255, FinishedAt: new Date().toISOString() };
      this.save(rec);
    } else if (rec.State.Status === 'removing') {
      await this.removeNow(rec, true);
    }
  }

  close(): void {
    this.watcher?.close();
  }

  // ---------- lookup ----------
  get(ref: string): ContainerRecord {
    const r = this.find(ref);
    if (!r) throw notFound(`No such container: ${ref}`);
    return r;
  }

  find(ref: string): ContainerRecord | undefined {
    if (!ref) return undefined;
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    const byId = this.records.get(ref);
    if (byId) return byId;
    const byName = this.names.get(name);
    if (byName) return this.records.get(byName);
    if (/^[0-9a-f]+$/.test(ref)) {
      let found: ContainerRecord | undefined;
      for (const [id, r] of this.records) {
        if (id.startsWith(ref)) {
          if (found) throw invalid(`Multiple IDs found with provided prefix: ${ref}`);
          found = r;
        }
      }
      return found;
    }
    return undefined;
  }

  all(): ContainerRecord[] {
    return [...this.records.values()];
  }

  /** Container IDs using an image (for rmi conflicts). */
  usingImage(imageId: string): string[] {
    return this.all().filter((r) => r.Image === imageId).map((r) => r.Id);
  }

  // ---------- create ----------
  async create(body: Record<string, unknown>, nameParam: string | undefined, opts: { ephemeral?: boolean } = {}): Promise<{ Id: string; Warnings: string[] }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('config cannot be empty in order to create a container');
    const imageRef = str(body['Image'], 'Config.Image');
    if (!imageRef) throw invalid('No image specified');
    let name = nameParam ?? '';
    if (name) {
      if (!validContainerName.test(name)) throw invalid(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      name = name.replace(/^\//, '');
      const taken = this.names.get(name);
      if (taken) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${taken}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
    const image = this.o.images.get(imageRef);
    const ic = image.config.config ?? {};
    const hcIn = (body['HostConfig'] ?? {}) as Record<string, unknown>;
    if (typeof hcIn !== 'object' || Array.isArray(hcIn)) throw invalid('json: cannot unmarshal into Go struct field HostConfig');

    const userCmd = strArray(body['Cmd'], 'Config.Cmd');
    const userEp = strArray(body['Entrypoint'], 'Config.Entrypoint');
    let entrypoint: string[] | null;
    let cmd: string[] | null;
    if (userEp !== null) {
      entrypoint = userEp.length === 1 && userEp[0] === '' ? null : userEp;
      cmd = userCmd;
    } else {
      entrypoint = ic.Entrypoint ?? null;
      cmd = userCmd && userCmd.length ? userCmd : (ic.Cmd ?? null);
    }
    const argv = [...(entrypoint ?? []), ...(cmd ?? [])];
    if (!argv.length) throw invalid('No command specified');

    const id = newId();
    if (!name) {
      for (let i = 0; ; i++) {
        name = generateName(i);
        if (!this.names.has(name)) break;
      }
    }
    const restart = (hcIn['RestartPolicy'] ?? { Name: '', MaximumRetryCount: 0 }) as { Name?: string; MaximumRetryCount?: number };
    const autoRemove = bool(hcIn['AutoRemove'], 'HostConfig.AutoRemove');
    if (autoRemove && restart.Name && restart.Name !== 'no') throw invalid("can't create 'AutoRemove' container with restart policy");
    const networkMode = str(hcIn['NetworkMode'], 'HostConfig.NetworkMode') || 'default';
    const logConfig = (hcIn['LogConfig'] ?? {}) as { Type?: string; Config?: Record<string, string> };
    const logType = logConfig.Type || 'json-file';
    if (!['json-file', 'k8s-file', 'local', 'none'].includes(logType)) throw invalid(`logger: no log driver named '${logType}' is registered`);
    validateLogOpts(logType, logConfig.Config ?? {});
    for (const [k, v] of Object.entries(logType === 'none' ? {} : logConfig.Config ?? {})) {
      if (k === 'max-size') { try { parseSize(v); } catch { throw invalid(`invalid value for max-size: ${v}`); } }
      if (k === 'max-file' && !(Number.isInteger(Number(v)) && Number(v) >= 1)) throw invalid(`max-file cannot be less than 1`);
    }
    if (logType !== 'none' && logConfig.Config?.['max-file'] && Number(logConfig.Config['max-file']) > 1 && !logConfig.Config['max-size']) throw invalid('max-file cannot be set without max-size');
    const tty = bool(body['Tty'], 'Config.Tty');
    const labels = { ...(ic.Labels ?? {}), ...strMap(body['Labels'], 'Config.Labels') };
    const binds = strArray(hcIn['Binds'], 'HostConfig.Binds');
    const tmpfs = strMap(hcIn['Tmpfs'], 'HostConfig.Tmpfs');

    const config: ContainerConfig = {
      // Docker: the host's name with --network host, else the short ID
      Hostname: str(body['Hostname'], 'Config.Hostname') || (networkMode === 'host' ? os.hostname() : id.slice(0, 12)),
      Domainname: str(body['Domainname'], 'Config.Domainname'),
      User: body['User'] !== undefined && body['User'] !== '' ? str(body['User'], 'Config.User') : (ic.User ?? ''),
      AttachStdin: bool(body['AttachStdin'], 'Config.AttachStdin'),
      AttachStdout: bool(body['AttachStdout'], 'Config.AttachStdout'),
      AttachStderr: bool(body['AttachStderr'], 'Config.AttachStderr'),
      ExposedPorts: { ...(ic.ExposedPorts ?? {}), ...((body['ExposedPorts'] as Record<string, object> | null) ?? {}) },
      Tty: tty,
      OpenStdin: bool(body['OpenStdin'], 'Config.OpenStdin'),
      StdinOnce: bool(body['StdinOnce'], 'Config.StdinOnce'),
      Env: mergeImageEnv(strArray(body['Env'], 'Config.Env') ?? [], ic.Env ?? []),
      Cmd: cmd,
      Image: imageRef,
      Volumes: { ...(ic.Volumes ?? {}), ...((body['Volumes'] as Record<string, object> | null) ?? {}) },
      WorkingDir: str(body['WorkingDir'], 'Config.WorkingDir') || ic.WorkingDir || '',
      Entrypoint: entrypoint,
      OnBuild: ic.OnBuild ?? null,
      Labels: labels,
    };
    if (config.WorkingDir && !config.WorkingDir.startsWith('/')) throw invalid(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
    const stopSignal = str(body['StopSignal'], 'Config.StopSignal') || ic.StopSignal;
    if (stopSignal) { parseSignal(stopSignal); config.StopSignal = stopSignal; }
    if (typeof body['StopTimeout'] === 'number') config.StopTimeout = body['StopTimeout'];
    if (str(body['MacAddress'], 'Config.MacAddress')) config.MacAddress = str(body['MacAddress'], 'Config.MacAddress'); // checked by the network provider
    const hc0 = mergeHealth(body['Healthcheck'] as HealthConfig | undefined, ic.Healthcheck as HealthConfig | undefined);
    if (hc0) config.Healthcheck = hc0;
    if (!Object.keys(config.ExposedPorts ?? {}).length) delete config.ExposedPorts;
    if (!Object.keys(config.Volumes ?? {}).length) config.Volumes = null;

    const consoleSize = Array.isArray(hcIn['ConsoleSize']) ? (hcIn['ConsoleSize'] as number[]) : [0, 0];
    const hostConfig: HostConfig = {
      ...hostConfigZero,
      ...(hcIn as Partial<HostConfig>),
      Binds: binds,
      LogConfig: { Type: logType, Config: logConfig.Config ?? {} },
      NetworkMode: networkMode,
      PortBindings: (hcIn['PortBindings'] as HostConfig['PortBindings']) ?? {},
      RestartPolicy: { Name: restart.Name ?? '', MaximumRetryCount: restart.MaximumRetryCount ?? 0 },
      AutoRemove: autoRemove,
      VolumesFrom: strArray(hcIn['VolumesFrom'], 'HostConfig.VolumesFrom'),
      CapAdd: strArray(hcIn['CapAdd'], 'HostConfig.CapAdd'),
      CapDrop: strArray(hcIn['CapDrop'], 'HostConfig.CapDrop'),
      // as sent (the CLI sends [], a sparse client nothing: null), as Docker stores them
      Dns: strArray(hcIn['Dns'], 'HostConfig.Dns'),
      DnsOptions: strArray(hcIn['DnsOptions'], 'HostConfig.DnsOptions'),
      DnsSearch: strArray(hcIn['DnsSearch'], 'HostConfig.DnsSearch'),
      ExtraHosts: strArray(hcIn['ExtraHosts'], 'HostConfig.ExtraHosts'),
      GroupAdd: strArray(hcIn['GroupAdd'], 'HostConfig.GroupAdd'),
      IpcMode: str(hcIn['IpcMode'], 'HostConfig.IpcMode') || 'private',
      PidMode: str(hcIn['PidMode'], 'HostConfig.PidMode'),
      UTSMode: str(hcIn['UTSMode'], 'HostConfig.UTSMode'),
      Privileged: bool(hcIn['Privileged'], 'HostConfig.Privileged'),
      PublishAllPorts: bool(hcIn['PublishAllPorts'], 'HostConfig.PublishAllPorts'),
      ReadonlyRootfs: bool(hcIn['ReadonlyRootfs'], 'HostConfig.ReadonlyRootfs'),
      SecurityOpt: strArray(hcIn['SecurityOpt'], 'HostConfig.SecurityOpt'),
      Tmpfs: tmpfs,
      ShmSize: num(hcIn['ShmSize'], 'HostConfig.ShmSize') || 64 * 1024 * 1024,
      ConsoleSize: [Number(consoleSize[0] ?? 0), Number(consoleSize[1] ?? 0)],
      Runtime: str(hcIn['Runtime'], 'HostConfig.Runtime') || 'runc',
    };
    // omitempty in Docker's HostConfig: absent unless set
    if (hostConfig.Init === undefined || hostConfig.Init === null) delete hostConfig.Init;
    if (!Object.keys(tmpfs).length) delete hostConfig.Tmpfs;
    for (const k of ['Sysctls', 'StorageOpt', 'Annotations'] as const) {
      const m = hostConfig[k];
      if (m === null || (typeof m === 'object' && !Object.keys(m as object).length)) delete hostConfig[k];
    }
    validateCreate({
      Hostname: config.Hostname, Env: config.Env, Healthcheck: config.Healthcheck as HealthConfig | undefined,
      requestedHostname: str(body['Hostname'], 'Config.Hostname'), exposesPorts: Object.keys((body['ExposedPorts'] as Record<string, object> | null) ?? {}).length > 0,
    }, hostConfig);
    // Docker answers 400 here (a 404 would make the CLI try to pull the image).
    for (const mode of [hostConfig.PidMode, hostConfig.IpcMode, networkMode]) { const ref = joinedContainer(mode); if (ref && !this.find(ref)) throw invalid(`No such container: ${ref}`); }
    const warnings = validateResources(hostConfig);
    applyDefaults(hostConfig, (ref) => this.find(ref)?.Id); // after the checks, as Docker adapts after verifying

    const rec: ContainerRecord = {
      Id: id,
      Created: new Date().toISOString(),
      Path: argv[0] ?? '',
      Args: argv.slice(1),
      State: { Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME },
      Image: image.id,
      Name: '/' + name,
      RestartCount: 0,
      Config: config,
      HostConfig: hostConfig,
      SnapshotParent: image.chainIds[image.chainIds.length - 1] ?? null,
    };
    this.net.prepare(rec, body['NetworkingConfig']);
    // Reserve the name before the first await so two creates cannot both take it.
    this.names.set(name, id);
    try {
      const ph = phases('create', id);
      const dir = this.dir(id);
      fs.mkdirSync(dir, { mode: 0o710 });
      if (opts.ephemeral) this.ephemeral.add(id);
      await this.o.images.snapshots.prepare(id, rec.SnapshotParent, { durable: !opts.ephemeral });
      ph.mark('snapshot');
      await this.mnt.prepare(rec, ic.Volumes);
      this.writeEtcFiles(rec);
      ph.mark('mounts+etc');
      this.save(rec); // the commit point: from here the container exists
      ph.mark('save');
      ph.done();
      this.records.set(id, rec);
    } catch (e) {
      this.names.delete(name);
      this.ephemeral.delete(id);
      await this.mnt.release(rec, true).catch(() => undefined);
      await this.o.images.snapshots.remove(id).catch(() => undefined);
      fs.rmSync(this.dir(id), { recursive: true, force: true });
      throw e;
    }
    this.emit(rec, 'create');
    return { Id: id, Warnings: warnings };
  }

  private writeEtcFiles(rec: ContainerRecord): void {
    const hc = rec.HostConfig;
    const dir = this.dir(rec.Id);
    const host = hc.NetworkMode === 'host';
    const hostname = rec.Config.Hostname; // the host's own name with --network host unless -h was given
    if (host) {
      let hosts = '';
      try { hosts = fs.readFileSync('/etc/hosts', 'utf8'); } catch { hosts = hostsFile(hostname, undefined, []); }
      for (const h of hc.ExtraHosts ?? []) { const i = h.indexOf(':'); if (i > 0) hosts += `${h.slice(i + 1)}\t${h.slice(0, i)}\n`; }
      fs.writeFileSync(path.join(dir, 'hosts'), hosts);
    } else {
      fs.writeFileSync(path.join(dir, 'hosts'), hostsFile(hostname, undefined, hc.ExtraHosts ?? []));
    }
    fs.writeFileSync(path.join(dir, 'hostname'), hostname + '\n');
    fs.writeFileSync(path.join(dir, 'resolv.conf'), resolvConf(host, hc.Dns ?? [], hc.DnsSearch ?? [], hc.DnsOptions ?? []));
  }

  // ---------- start ----------
  start(ref: string): Promise<void> {
    const rec0 = this.get(ref);
    this.cancelRestart(rec0);
    return this.locked(rec0.Id, () => this.startLocked(this.get(rec0.Id)));
  }

  private async startLocked(rec: ContainerRecord): Promise<void> {
    if (rec.State.Paused) throw conflict(`cannot start a paused container, try unpause instead`);
    if (rec.State.Running) throw notModified();
    if (rec.State.Status === 'removing') throw conflict(`container is marked for removal and cannot be started`);
    const id = rec.Id;
    await this.runcCleanup.get(id); // the previous run's runc state must be gone
    const bundle = this.bundle(id);
    const rootfs = this.rootfs(id);
    fs.mkdirSync(rootfs, { recursive: true, mode: 0o700 });
    fs.rmSync(path.join(this.exitDir, id), { force: true });
    fs.rmSync(path.join(bundle, 'exit'), { force: true });
    fs.rmSync(path.join(bundle, 'oom'), { force: true });
    let mounted = false;
    let networked = false;
    const ph = phases('start', id);
    try {
      this.o.images.snapshots.mount(id, rootfs);
      mounted = true;
      ph.mark('mount');
      const spec = this.specFor(rec, rootfs, await this.mnt.ociMounts(rec, rootfs));
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
      ph.mark('spec');
      const tty = rec.Config.Tty;
      const pid = await conmonCreate({
        conmonPath: this.o.conmonPath,
        runtimePath: this.o.runcPath,
        runtimeRoot: path.join(this.o.execRoot, 'runc'),
        id,
        name: rec.Name.slice(1),
        bundle,
        pidFile: path.join(bundle, 'pidfile'),
        conmonPidFile: path.join(bundle, 'conmon.pid'),
        logPath: this.logPath(id),
        ...this.conmonLogLimit(rec),
        exitDir: this.exitDir,
        persistDir: bundle,
        terminal: tty,
        stdin: rec.Config.OpenStdin,
        // Detaching from a TTY (or a container whose stdin stays open) must not close its stdin.
        leaveStdinOpen: rec.Config.OpenStdin && (tty || !rec.Config.StdinOnce),
      });
      ph.mark('create');
      if (!rec.HostConfig.NetworkMode.startsWith('container:') && rec.HostConfig.NetworkMode !== 'host') {
        networked = true;
        await this.net.attach(rec, pid, { hosts: path.join(this.dir(id), 'hosts'), resolvConf: path.join(this.dir(id), 'resolv.conf'), hostname: path.join(this.dir(id), 'hostname') });
      }
      // Connect clients that attached before start, so no output is lost.
      const pending = this.pendingAttach.get(id) ?? [];
      this.pendingAttach.delete(id);
      await Promise.all(pending.map((p) => p(true).catch((e: unknown) => log.warn('attach failed', { id, err: e }))));
      ph.mark('net+attach');
      await this.runc.start(id, pid);
      ph.mark('runc-start');
      const conmonPid = Number(fs.readFileSync(path.join(bundle, 'conmon.pid'), 'utf8').trim()) || undefined;
      rec.State = { ...rec.State, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: pid, ExitCode: 0, Error: '', StartedAt: new Date().toISOString(), FinishedAt: ZERO_TIME };
      if (conmonPid) rec.ConmonPid = conmonPid;
      rec.ManuallyStopped = false;
      this.startHealth(rec, spec);
      this.startRotator(rec);
      this.save(rec);
      ph.mark('save');
      ph.done();
      this.emit(rec, 'start');
      // A very short-lived process may have exited before we recorded "running".
      if (fs.existsSync(path.join(this.exitDir, id))) void this.onExitFile(id);
    } catch (e) {
      const msg = errorMessage(e);
      for (const p of this.pendingAttach.get(id) ?? []) void p(false);
      this.pendingAttach.delete(id);
      await this.runc.delete(id, true);
      if (networked) await this.net.detach(rec);
      if (mounted) this.unmountQuiet(rootfs);
      // Docker removes an AutoRemove container whose start failed, whatever the reason.
      if (rec.HostConfig.AutoRemove) void this.locked(id, () => this.removeNow(rec, true)).catch(() => undefined);
      if (e instanceof EngineError && e.kind !== 'internal') throw e;
      const err = startErrorFor(msg);
      rec.State = { ...rec.State, Status: rec.State.StartedAt === ZERO_TIME ? 'created' : 'exited', ExitCode: exitCodeForStartError(msg), Error: err.message };
      if (this.records.has(id)) this.save(rec);
      throw err;
    }
  }

  private specFor(rec: ContainerRecord, rootfs: string, extraMounts: OciMount[]): Record<string, unknown> {
    const c = rec.Config, hc = rec.HostConfig;
    // Docker (initializeNetworking): joining another container's network takes its hostname and /etc files.
    const joinedNet = joinedContainer(hc.NetworkMode);
    const nc = joinedNet ? this.find(joinedNet) : undefined;
    if (nc) { c.Hostname = nc.Config.Hostname; c.Domainname = nc.Config.Domainname; }
    const user = resolveUser(rootfs, c.User, hc.GroupAdd ?? []);
    const cwd = c.WorkingDir || '/';
    if (cwd !== '/') {
      // Docker creates the working directory when the image lacks it.
      const p = resolveInRoot(rootfs, cwd);
      if (!fs.existsSync(p)) {
        fs.mkdirSync(p, { recursive: true, mode: 0o755 });
      }
    }
    const hostNet = hc.NetworkMode === 'host';
    // Docker's CreateDaemonEnvironment: defaults, then Config.Env ("NAME" alone unsets).
    const extra = [DEFAULT_PATH, `HOSTNAME=${c.Hostname}`];
    if (c.Tty) extra.push('TERM=xterm');
    extra.push(...this.net.linkEnv(rec)); // legacy --link variables, overridden by Config.Env as in Docker
    const finalEnv = replaceOrAppendEnv(extra, c.Env);
    if (!finalEnv.some((e) => e.startsWith('HOME='))) finalEnv.push(`HOME=${user.home || '/'}`);

    const mounts: OciMount[] = [];
    let netSource = rec;
    if (hc.NetworkMode.startsWith('container:')) netSource = this.get(hc.NetworkMode.slice(10));
    const etcDir = this.dir(netSource.Id);
    for (const [f, dst] of [['resolv.conf', '/etc/resolv.conf'], ['hostname', '/etc/hostname'], ['hosts', '/etc/hosts']] as const) {
      mounts.push({ destination: dst, type: 'bind', source: path.join(etcDir, f), options: ['rbind', 'rprivate'] });
    }
    mounts.push(...extraMounts);
    let network: 'new' | 'host' | { path: string } = 'new';
    if (hostNet) network = 'host';
    else if (netSource !== rec) {
      if (!netSource.State.Running) throw conflict(`cannot join network of a non running container: ${netSource.Id}`);
      network = { path: `/proc/${netSource.State.Pid}/ns/net` };
    }
    const [h, w] = hc.ConsoleSize ?? [0, 0];
    const ns = this.joinedNamespaces(rec, mounts);
    const dev = this.deviceSpec(hc);
    const caps = effectiveCapabilities(hc.Privileged, hc.CapAdd ?? [], hc.CapDrop ?? []);
    let seccomp: unknown;
    // The value is a profile's JSON (the CLI sends a file's content), or Docker's built-in names.
    const secVal = parseSecurityOpt(hc.SecurityOpt).seccomp;
    if (!hc.Privileged && secVal !== 'unconfined') {
      if (secVal && secVal !== 'builtin') {
        try { seccomp = fromDockerProfile(JSON.parse(secVal), caps); } catch (e) { throw invalid(`Decoding seccomp profile failed: ${errorMessage(e)}`); }
      } else {
        seccomp = defaultSeccompProfile(caps);
      }
    }
    let args = [rec.Path, ...rec.Args];
    if (hc.Init === true) {
      // Docker's --init: a tiny init as PID 1 that reaps zombies and forwards signals.
      mounts.push({ destination: '/sbin/docker-init', type: 'bind', source: this.initBinary(), options: ['rbind', 'ro'] });
      args = ['/sbin/docker-init', '--', ...args];
    }
    return buildSpec({
      id: rec.Id,
      rootfs,
      readonlyRootfs: hc.ReadonlyRootfs,
      args,
      env: finalEnv,
      ...(seccomp ? { seccomp } : {}),
      cwd,
      uid: user.uid,
      gid: user.gid,
      additionalGids: user.additionalGids,
      terminal: c.Tty,
      ...(h && w ? { consoleSize: { height: h, width: w } } : {}),
      hostname: c.Hostname,
      privileged: hc.Privileged,
      capAdd: hc.CapAdd ?? [],
      capDrop: hc.CapDrop ?? [],
      mounts,
      network,
      ipcHost: hc.IpcMode === 'host',
      pidHost: hc.PidMode === 'host',
      utsHost: hc.UTSMode === 'host',
      ...ns,
      noShm: hc.IpcMode === 'none' || hc.IpcMode === 'shareable',
      cgroupns: hc.CgroupnsMode === 'private',
      ...dev,
      ...(Array.isArray(hc['MaskedPaths']) ? { maskedPaths: hc['MaskedPaths'] as string[] } : {}),
      ...(Array.isArray(hc['ReadonlyPaths']) ? { readonlyPaths: hc['ReadonlyPaths'] as string[] } : {}),
      cgroupsPath: this.cgroupPath(rec),
      shmSize: hc.ShmSize || 64 * 1024 * 1024,
      // runc 1.1 ignores the spec's domainname; Docker itself long set it as this sysctl
      sysctls: { ...(c.Domainname && hc.UTSMode !== 'host' ? { 'kernel.domainname': c.Domainname } : {}), ...(hc.Sysctls ?? {}) },
      noNewPrivileges: parseSecurityOpt(hc.SecurityOpt).noNewPrivileges,
      annotations: {},
      resources: ociResources(hc),
      rlimits: rlimits(hc['Ulimits'] as Ulimit[] | null | undefined),
      ...(typeof hc.OomScoreAdj === 'number' ? { oomScoreAdj: hc.OomScoreAdj } : {}),
    });
  }

  /**
   * --pid/--ipc container:X join X's namespaces (X must run; for IPC it must
   * be shareable, and its /dev/shm comes along); --ipc host shares the host's /dev/shm.
   */
  private joinedNamespaces(rec: ContainerRecord, mounts: OciMount[]): { pidPath?: string; ipcPath?: string } {
    const hc = rec.HostConfig;
    const out: { pidPath?: string; ipcPath?: string } = {};
    const running = (ref: string, what: string): ContainerRecord => {
      const t = this.find(ref);
      if (!t) throw invalid(`failed to join ${what} namespace: No such container: ${ref}`);
      if (!t.State.Running || !t.State.Pid) throw conflict(`failed to join ${what} namespace: container ${t.Id} is not running`);
      if (t.State.Restarting) throw conflict(`failed to join ${what} namespace: container ${t.Id} is restarting, wait until the container is running`);
      return t;
    };
    const pidRef = joinedContainer(hc.PidMode);
    if (pidRef) out.pidPath = `/proc/${running(pidRef, 'PID').State.Pid}/ns/pid`;
    const ipcRef = joinedContainer(hc.IpcMode);
    if (ipcRef) {
      const t = running(ipcRef, 'IPC');
      if (t.HostConfig.IpcMode !== 'shareable') throw invalid(`failed to join IPC namespace: container ${ipcRef}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
      out.ipcPath = `/proc/${t.State.Pid}/ns/ipc`;
      mounts.push({ destination: '/dev/shm', type: 'bind', source: this.shmDir(t.Id), options: ['rbind', 'rprivate'] });
    } else if (hc.IpcMode === 'shareable') {
      // A tmpfs on the host side, so containers joining this IPC namespace can bind the same /dev/shm.
      const dir = this.shmDir(rec.Id);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.unmountQuiet(dir);
      native().mount('shm', dir, 'tmpfs', 2 | 4 | 8, `mode=1777,size=${hc.ShmSize || 64 * 1024 * 1024}`); // MS_NOSUID|MS_NODEV|MS_NOEXEC
      mounts.push({ destination: '/dev/shm', type: 'bind', source: dir, options: ['rbind', 'rprivate'] });
    } else if (hc.IpcMode === 'host') {
      mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
    }
    return out;
  }

  /** Docker's cgroupfs path: <--cgroup-parent, default /berth>/<id>. */
  private cgroupPath(rec: ContainerRecord): string {
    const parent = String(rec.HostConfig['CgroupParent'] ?? '') || '/berth';
    return path.posix.join('/', parent, rec.Id); // anchored at the root: stats read it from /sys/fs/cgroup
  }

  private shmDir(id: string): string { return path.join(this.dir(id), 'shm'); }

  /** --device, --device-cgroup-rule and --privileged's host devices. */
  private deviceSpec(hc: HostConfig): { devices: OciDevice[]; deviceRules: OciDeviceRule[] } {
    const devices: OciDevice[] = [], deviceRules: OciDeviceRule[] = [];
    const list = (Array.isArray(hc['Devices']) ? hc['Devices'] : []) as Array<{ PathOnHost?: string; PathInContainer?: string; CgroupPermissions?: string }>;
    if (hc.Privileged) devices.push(...hostDevices());
    for (const m of list) {
      const onHost = String(m.PathOnHost ?? '');
      const inCtr = String(m.PathInContainer || onHost);
      // privileged: every host device is there already at its own path, with all access
      if (hc.Privileged && inCtr === onHost) continue;
      const perms = hc.Privileged ? 'rwm' : String(m.CgroupPermissions || 'rwm');
      if (!/^[rwm]{1,3}$/.test(perms)) throw invalid(`invalid device permissions: ${perms}`);
      const r = devicesFromPath(onHost, inCtr, perms);
      devices.push(...r.devices);
      if (!hc.Privileged) deviceRules.push(...r.rules);
    }
    if (!hc.Privileged) for (const rule of (hc['DeviceCgroupRules'] as string[] | null | undefined) ?? []) deviceRules.push(parseDeviceCgroupRule(String(rule)));
    return { devices, deviceRules };
  }

  private initBinary(): string {
    for (const p of ['/usr/bin/tini-static', '/usr/local/bin/tini-static', '/usr/bin/docker-init']) if (fs.existsSync(p)) return p;
    throw invalid('--init needs tini-static (Debian package tini), which is not installed');
  }

  // ---------- update ----------
  async update(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }> {
    const rec = this.get(ref);
    if (typeof body !== 'object' || body === null) throw invalid('invalid update body');
    const next: Record<string, unknown> = { ...rec.HostConfig };
    for (const k of updatableFields) if (body[k] !== undefined && body[k] !== null) next[k] = body[k];
    // Docker: a new memory limit without a swap setting keeps swap = 2 * memory when swap was defaulted.
    if (body['Memory'] !== undefined && body['MemorySwap'] === undefined && Number(rec.HostConfig['MemorySwap'] ?? 0) > 0 && Number(body['Memory']) > Number(rec.HostConfig['MemorySwap'])) {
      throw invalid('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
    const rp = body['RestartPolicy'] as { Name?: string } | undefined;
    if (rp?.Name && rp.Name !== 'no' && rec.HostConfig.AutoRemove) throw invalid('Restart policy cannot be updated because AutoRemove is enabled for the container');
    const warnings = validateResources(next as Partial<HostConfig>);
    if (rec.State.Running) {
      const file = path.join(this.bundle(rec.Id), 'update.json');
      fs.writeFileSync(file, JSON.stringify(ociResources(next as Partial<HostConfig>)));
      const r = await this.runc.run(['update', '--resources', file, rec.Id]);
      if (r.code !== 0) throw internal(`Cannot update container ${rec.Id}: ${r.stderr.trim()}`);
    }
    rec.HostConfig = next as HostConfig;
    this.save(rec);
    this.emit(rec, 'update');
    return { Warnings: warnings };
  }

  // ---------- exits ----------
  private async onExitFile(id: string): Promise<void> {
    const rec = this.records.get(id);
    const file = path.join(this.exitDir, id);
    if (!rec) return;
    let text: string;
    let mtime: Date;
    try {
      text = fs.readFileSync(file, 'utf8');
      mtime = fs.statSync(file).mtime;
    } catch {
      return;
    }
    if (!text.trim()) return; // conmon writes the file whole; an empty read is a race with its creation
    const ph = phases('exit', id);
    await this.locked(id, async () => {
      ph.mark('lock');
      if (!fs.existsSync(file) || !this.records.has(id)) return;
      const code = Number.parseInt(text.trim(), 10);
      const oom = fs.existsSync(path.join(this.bundle(id), 'oom'));
      this.deleteRuncLater(id);
      await this.net.detach(rec);
      ph.mark('net');
      this.unmountQuiet(this.rootfs(id));
      if (rec.HostConfig.IpcMode === 'shareable') this.unmountQuiet(this.shmDir(id));
      ph.mark('umount');
      this.mnt.stopped?.(rec); // volume unmount events, before die (as Docker's Cleanup)
      rec.State = { ...rec.State, Status: 'exited', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: Number.isFinite(code) ? code : 255, OOMKilled: oom, FinishedAt: mtime.toISOString() };
      delete rec.ConmonPid;
      // An --rm container's record is dropped just below: saving it first
      // would be a wasted fsync (its exit file goes with the record).
      if (!rec.HostConfig.AutoRemove) {
        this.save(rec);
        // Only now: a crash before the exit code is on disk finds the file again at start-up.
        fs.rmSync(file, { force: true });
      }
      if (oom) this.emit(rec, 'oom');
      this.emit(rec, 'die', { exitCode: String(rec.State.ExitCode) });
      for (const w of this.exitWaiters.get(id) ?? []) w(rec.State.ExitCode);
      this.exitWaiters.delete(id);
      this.stopHealth(rec.Id);
      this.stopRotator(rec.Id);
      ph.mark('save+emit');
      if (rec.HostConfig.AutoRemove) await this.removeNow(rec, true);
      else this.maybeRestart(rec);
      ph.mark('remove');
      ph.done();
    });
  }

  // ---------- restart policies ----------
  private shouldRestart(rec: ContainerRecord): boolean {
    const p = rec.HostConfig.RestartPolicy ?? { Name: '', MaximumRetryCount: 0 };
    if (rec.ManuallyStopped) return false;
    switch (p.Name) {
      case 'always':
      case 'unless-stopped':
        return true;
      case 'on-failure':
        return rec.State.ExitCode !== 0 && (p.MaximumRetryCount <= 0 || rec.RestartCount < p.MaximumRetryCount);
      default:
        return false;
    }
  }

  /** Docker's back-off: 100 ms doubling, back to 100 ms after a run of 10 s or more, at most a minute. */
  private maybeRestart(rec: ContainerRecord): void {
    if (!this.shouldRestart(rec)) {
      this.restartDelay.delete(rec.Id);
      return;
    }
    const ranMs = Date.parse(rec.State.FinishedAt) - Date.parse(rec.State.StartedAt);
    let delay = this.restartDelay.get(rec.Id) ?? 0;
    delay = ranMs >= 10000 || delay === 0 ? 100 : Math.min(delay * 2, 60000);
    this.restartDelay.set(rec.Id, delay);
    rec.State = { ...rec.State, Status: 'restarting', Restarting: true };
    this.save(rec);
    const t = setTimeout(() => {
      this.restartTimers.delete(rec.Id);
      if (!this.records.has(rec.Id) || !rec.State.Restarting) return;
      rec.RestartCount++;
      rec.State = { ...rec.State, Restarting: false, Status: 'exited' };
      void this.locked(rec.Id, () => this.startLocked(rec)).catch((e: unknown) => {
        log.warn('restart failed', { id: rec.Id, err: e });
        rec.State = { ...rec.State, Restarting: false, Status: 'exited' };
        if (this.records.has(rec.Id)) this.save(rec);
      });
    }, delay);
    this.restartTimers.set(rec.Id, t);
  }

  private cancelRestart(rec: ContainerRecord): boolean {
    const t = this.restartTimers.get(rec.Id);
    if (!t) return false;
    clearTimeout(t);
    this.restartTimers.delete(rec.Id);
    rec.State = { ...rec.State, Restarting: false, Status: 'exited' };
    return true;
  }

  /** At daemon start: containers whose policy says they should be running. */
  private autoStart(): void {
    for (const rec of this.records.values()) {
      if (rec.State.Running || this.restartTimers.has(rec.Id)) continue;
      const p = rec.HostConfig.RestartPolicy?.Name;
      if (p === 'always' || (p === 'unless-stopped' && !rec.ManuallyStopped)) {
        void this.start(rec.Id).catch((e: unknown) => log.warn('auto-start failed', { id: rec.Id, err: e }));
      }
    }
  }

  // ---------- log rotation ----------
  private logLimits(rec: ContainerRecord): { maxSize: number; maxFile: number } {
    const c = rec.HostConfig.LogConfig?.Config ?? {};
    return { maxSize: c['max-size'] ? parseSize(c['max-size']) : 0, maxFile: Number(c['max-file'] ?? 1) || 1 };
  }

  private conmonLogLimit(rec: ContainerRecord): { logSizeMax?: number } {
    const { maxSize, maxFile } = this.logLimits(rec);
    if (!maxSize) return {};
    // One file: conmon truncates at the limit itself. Several: berthd rotates.
    // (conmon's byte counter is not reset by a ctl reopen, so a larger conmon
    // limit as a safety net would truncate a fresh file mid-stream.)
    return maxFile <= 1 ? { logSizeMax: maxSize } : {};
  }

  /** Rotates container.log → .1 → .2 … and asks conmon to reopen (ctl message 2). */
  private startRotator(rec: ContainerRecord): void {
    this.stopRotator(rec.Id);
    const { maxSize, maxFile } = this.logLimits(rec);
    if (!maxSize || maxFile <= 1) return;
    const file = this.logPath(rec.Id);
    const t = setInterval(() => {
      let size = 0;
      try { size = fs.statSync(file).size; } catch { return; }
      if (size < maxSize) return;
      try {
        fs.rmSync(`${file}.${maxFile - 1}`, { force: true });
        for (let i = maxFile - 2; i >= 1; i--) if (fs.existsSync(`${file}.${i}`)) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`);
        fs.renameSync(file, `${file}.1`);
        const fd = fs.openSync(path.join(this.bundle(rec.Id), 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        try { fs.writeSync(fd, '2 0 0\n'); } finally { fs.closeSync(fd); }
      } catch (e) {
        log.warn('log rotation failed', { id: rec.Id, err: e });
      }
    }, 200);
    this.rotators.set(rec.Id, t);
  }

  private stopRotator(id: string): void {
    const t = this.rotators.get(id);
    if (t) clearInterval(t);
    this.rotators.delete(id);
  }

  // ---------- health ----------
  private startHealth(rec: ContainerRecord, spec: Record<string, unknown>): void {
    this.stopHealth(rec.Id);
    const cfg = rec.Config.Healthcheck as HealthConfig | undefined;
    if (!healthEnabled(cfg)) {
      delete rec.State.Health;
      return;
    }
    const proc = spec['process'] as { env: string[]; cwd: string; user: { uid: number; gid: number; additionalGids?: number[] }; capabilities: unknown };
    if (!rec.State.Health || !rec.State.Running) rec.State.Health = { Status: 'starting', FailingStreak: 0, Log: [] };
    const state = rec.State.Health!;
    const m = new HealthMonitor(cfg, {
      runcPath: this.o.runcPath,
      runcRoot: path.join(this.o.execRoot, 'runc'),
      containerId: rec.Id,
      dir: this.bundle(rec.Id),
      processBase: { env: proc.env, cwd: proc.cwd, user: proc.user, capabilities: proc.capabilities },
    }, state, (status) => {
      if (this.records.has(rec.Id)) this.save(rec);
      this.emit(rec, `health_status: ${status}`);
    });
    this.health.set(rec.Id, m);
    m.start();
  }

  private stopHealth(id: string): void {
    this.health.get(id)?.stop();
    this.health.delete(id);
  }

  private waitExit(id: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const rec = this.records.get(id);
      if (!rec || !rec.State.Running) { resolve(true); return; }
      const timer = timeoutMs >= 0 ? setTimeout(() => { done(false); }, timeoutMs) : undefined;
      const list = this.exitWaiters.get(id) ?? [];
      const w = (): void => done(true);
      const done = (v: boolean): void => {
        if (timer) clearTimeout(timer);
        const l = this.exitWaiters.get(id);
        if (l) { const i = l.indexOf(w); if (i >= 0) l.splice(i, 1); }
        resolve(v);
      };
      list.push(w);
      this.exitWaiters.set(id, list);
    });
  }

  // ---------- stop / kill / restart ----------
  async stop(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    const rec = this.get(ref);
    if (this.cancelRestart(rec)) {
      rec.ManuallyStopped = true;
      this.save(rec);
      this.emit(rec, 'stop');
      return;
    }
    if (!rec.State.Running) throw notModified();
    rec.ManuallyStopped = true; // before the exit is seen, so no restart policy fires
    await this.stopRunning(rec, timeoutSec, signal);
    if (this.records.has(rec.Id)) this.save(rec);
    this.emit(rec, 'stop');
  }

  private async stopRunning(rec: ContainerRecord, timeoutSec?: number, signal?: string): Promise<void> {
    const sig = parseSignal(signal || rec.Config.StopSignal || 'SIGTERM');
    const t = timeoutSec ?? rec.Config.StopTimeout ?? 10;
    if (rec.State.Paused) await this.runc.resume(rec.Id).catch(() => undefined);
    const exited = this.waitExit(rec.Id, t < 0 ? -1 : t * 1000);
    this.emit(rec, 'kill', { signal: String(sig) });
    await this.runc.kill(rec.Id, String(sig));
    if (await exited) return;
    this.emit(rec, 'kill', { signal: '9' });
    const killed = this.waitExit(rec.Id, 30000);
    await this.runc.kill(rec.Id, 'KILL', true);
    if (!(await killed)) throw internal(`container ${rec.Id} did not exit after SIGKILL`);
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const rec = this.get(ref);
    const sig = parseSignal(signal || 'KILL');
    if (!rec.State.Running) throw conflict(`Cannot kill container: ${ref}: Container ${rec.Id} is not running`);
    if (rec.State.Paused && sig !== 9) throw conflict(`Cannot kill container: ${ref}: Container ${rec.Id} is paused. Unpause the container before stopping or killing`);
    const exited = sig === 9 ? this.waitExit(rec.Id, 10000) : undefined;
    if (sig === 9 || sig === 15) rec.ManuallyStopped = true;
    const r = await this.runc.kill(rec.Id, String(sig), sig === 9);
    if (r.code !== 0 && this.records.get(rec.Id)?.State.Running) throw internal(`Cannot kill container: ${ref}: ${r.stderr.trim()}`);
    this.emit(rec, 'kill', { signal: String(sig) });
    if (exited) await exited;
  }

  async restart(ref: string, timeoutSec?: number, signal?: string): Promise<void> {
    const rec = this.get(ref);
    this.cancelRestart(rec);
    if (rec.State.Running) {
      rec.ManuallyStopped = true; // the policy must not race our own start
      await this.stopRunning(rec, timeoutSec, signal);
    }
    await this.start(rec.Id);
    this.emit(rec, 'restart');
  }

  async pause(ref: string): Promise<void> {
    const rec = this.get(ref);
    if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.Id} is already paused`);
    await this.runc.pause(rec.Id);
    rec.State = { ...rec.State, Status: 'paused', Paused: true };
    this.save(rec);
    this.emit(rec, 'pause');
  }

  async unpause(ref: string): Promise<void> {
    const rec = this.get(ref);
    if (!rec.State.Paused) throw conflict(`Container ${rec.Id} is not paused`);
    await this.runc.resume(rec.Id);
    rec.State = { ...rec.State, Status: 'running', Paused: false };
    this.save(rec);
    this.emit(rec, 'unpause');
  }

  // ---------- remove / rename ----------
  async remove(ref: string, force: boolean, volumes: boolean): Promise<void> {
    const rec = this.get(ref);
    if (this.restartTimers.has(rec.Id)) {
      if (!force) throw conflict(`You cannot remove a restarting container ${rec.Id}. Stop the container before attempting removal or force remove`);
      this.cancelRestart(rec);
    }
    if (rec.State.Running && !force) {
      const what = rec.State.Paused ? 'paused' : 'running';
      throw conflict(`You cannot remove a ${what} container ${rec.Id}. Stop the container before attempting removal or force remove`);
    }
    if (rec.State.Status === 'removing') throw conflict(`removal of container ${rec.Id} is already in progress`);
    if (rec.State.Running) {
      rec.HostConfig.AutoRemove = false; // we remove it ourselves below
      const exited = this.waitExit(rec.Id, 30000);
      if (rec.State.Paused) await this.runc.resume(rec.Id).catch(() => undefined);
      await this.runc.kill(rec.Id, 'KILL', true);
      if (!(await exited)) {
        // conmon gone: clean up by hand
        await this.runc.delete(rec.Id, true);
      }
    }
    await this.locked(rec.Id, () => this.removeNow(rec, volumes));
  }

  /** Removes a stopped container; removeVolumes deletes its anonymous volumes (rm -v, --rm). */
  /**
   * `runc delete` of an exited container (its state directory and cgroups)
   * is housekeeping nobody waits for: run it off the exit path. A later start
   * or remove of the same container waits for it; after a crash, start-up
   * reconciliation deletes what is left.
   */
  private deleteRuncLater(id: string): void {
    // setImmediate: spawning runc blocks the event loop for a fork; do it after
    // the exit has been reported.
    const p: Promise<unknown> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.runc.delete(id, true))
      .catch(() => undefined)
      .finally(() => { if (this.runcCleanup.get(id) === p) this.runcCleanup.delete(id); });
    this.runcCleanup.set(id, p);
  }

  private async removeNow(rec: ContainerRecord, removeVolumes: boolean): Promise<void> {
    const id = rec.Id;
    const ph = phases('remove', id);
    if (!this.records.has(id)) return;
    this.stopHealth(id);
    this.stopRotator(id);
    // An exited container's runc state went with its exit; only a live or half-started one has any.
    if (rec.State.Running || rec.State.Status === 'created' || rec.State.Status === 'removing') await this.runc.delete(id, true);
    await this.net.detach(rec);
    await this.net.release(rec);
    this.unmountQuiet(this.rootfs(id));
    if (rec.HostConfig.IpcMode === 'shareable') this.unmountQuiet(this.shmDir(id));
    ph.mark('runc+net+umount');
    // Drop the record first: a crash after this leaves only unowned files, which start-up removes.
    fs.rmSync(path.join(this.dir(id), 'config.v2.json'), { force: true });
    if (!this.ephemeral.has(id)) try { fsyncDir(this.dir(id)); } catch { /* dir may be gone */ }
    ph.mark('drop-record');
    this.records.delete(id);
    this.ephemeral.delete(id);
    if (this.names.get(rec.Name.slice(1)) === id) this.names.delete(rec.Name.slice(1));
    fs.rmSync(path.join(this.exitDir, id), { force: true });
    await this.mnt.release(rec, removeVolumes).catch((e: unknown) => log.warn('volume release failed', { id, err: e }));
    ph.mark('volumes');
    // The container is gone for every client from here; `docker run --rm`
    // waits for this, not for the directories below.
    for (const w of this.exitWaiters.get(id) ?? []) w(rec.State.ExitCode);
    this.exitWaiters.delete(id);
    for (const w of this.removedWaiters.get(id) ?? []) w();
    this.removedWaiters.delete(id);
    for (const [eid, e] of this.execs) if (e.ContainerID === id && !e.Running) this.execs.delete(eid);
    this.emit(rec, 'destroy');
    await this.o.images.snapshots.remove(id).catch((e: unknown) => log.warn('snapshot removal failed', { id, err: e }));
    ph.mark('snapshot');
    fs.rmSync(this.bundle(id), { recursive: true, force: true });
    fs.rmSync(this.dir(id), { recursive: true, force: true });
    await this.runcCleanup.get(id);
    ph.mark('rm-dirs');
    ph.done();
  }

  rename(ref: string, newName: string): void {
    const rec = this.get(ref);
    if (!newName) throw invalid('Neither old nor new names may be empty');
    if (!validContainerName.test(newName)) throw invalid(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const name = newName.replace(/^\//, '');
    const old = rec.Name.slice(1);
    if (name === old) throw invalid(`Renaming a container with the same name as its current name`);
    const taken = this.names.get(name);
    if (taken) throw conflict(`Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${taken}". You have to remove (or rename) that container to be able to reuse that name.`);
    rec.Name = '/' + name;
    this.save(rec);
    this.names.delete(old);
    this.names.set(name, rec.Id);
    this.emit(rec, 'rename', { oldName: '/' + old });
  }

  // ---------- wait ----------
  /** Resolves when the condition holds; `ready` is called once the wait is registered. */
  wait(ref: string, condition: string): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const rec = this.get(ref);
    const cond = condition || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw invalid(`invalid condition: "${cond}"`);
    const result = (): { StatusCode: number; Error: null } => ({ StatusCode: rec.State.ExitCode, Error: null });
    if (cond === 'not-running' && !rec.State.Running) return Promise.resolve(result());
    if (cond === 'removed') {
      if (!this.records.has(rec.Id)) return Promise.resolve(result());
      return new Promise((resolve) => {
        const l = this.removedWaiters.get(rec.Id) ?? [];
        l.push(() => resolve(result()));
        this.removedWaiters.set(rec.Id, l);
      });
    }
    return new Promise((resolve) => {
      const l = this.exitWaiters.get(rec.Id) ?? [];
      l.push((code) => resolve({ StatusCode: code, Error: null }));
      this.exitWaiters.set(rec.Id, l);
    });
  }

  // ---------- attach / logs / resize ----------
  attach(ref: string, hijack: Hijack, o: { stdin: boolean; stdout: boolean; stderr: boolean; stream: boolean; logs: boolean; detachKeys?: string | null }): void {
    const rec = this.get(ref);
    const keys = parseDetachKeys(o.detachKeys);
    const stdin = o.stdin && rec.Config.OpenStdin;
    // A stopped container may be attached to: the stream connects at its next start (`docker start -a`).
    if (rec.State.Paused) throw conflict(`container ${rec.Id} is paused, unpause the container before attach`);
    if (rec.State.Restarting) throw conflict(`container ${rec.Id} is restarting, wait until the container is running`);
    const { socket: client, head } = hijack();
    if (o.logs) {
      const { data } = readLog(this.logPath(rec.Id), { stdout: o.stdout, stderr: o.stderr, tail: -1, timestamps: false, raw: rec.Config.Tty });
      if (data.length) client.write(data);
    }
    if (!o.stream) { client.end(); return; }
    this.emit(rec, 'attach');
    const connect = async (ok: boolean): Promise<void> => {
      if (!ok) { client.end(); return; }
      const s = attachClient(client, {
        dir: this.bundle(rec.Id),
        helper: this.o.attachHelper,
        tty: rec.Config.Tty,
        stdin,
        stdout: o.stdout,
        stderr: o.stderr,
        detachKeys: keys,
        onEnd: (detached) => { if (detached) this.emit(rec, 'detach'); },
      }, head);
      await s.ready;
    };
    if (rec.State.Running) {
      void connect(true).catch(() => client.end());
    } else {
      // Attached before start (docker run): connect once conmon is up, before runc start.
      const l = this.pendingAttach.get(rec.Id) ?? [];
      l.push(connect);
      this.pendingAttach.set(rec.Id, l);
      client.on('close', () => {
        const cur = this.pendingAttach.get(rec.Id);
        if (cur) { const i = cur.indexOf(connect); if (i >= 0) cur.splice(i, 1); }
      });
    }
  }

  /** Whether the log stream is raw (TTY); throws Docker's error, before any reply is sent, when the driver keeps no log. */
  logsTty(ref: string): boolean {
    const rec = this.get(ref);
    if (rec.HostConfig.LogConfig.Type === 'none') throw invalid(`configured logging driver does not support reading`);
    return rec.Config.Tty;
  }

  logs(ref: string, out: Writable, o: { stdout: boolean; stderr: boolean; follow: boolean; tail: string; timestamps: boolean; since?: number; until?: number; coalesce?: boolean }): { stop: () => void } {
    const rec = this.get(ref);
    if (rec.HostConfig.LogConfig.Type === 'none') throw invalid(`configured logging driver does not support reading`);
    const tail = o.tail === '' || o.tail === 'all' ? -1 : Number.parseInt(o.tail, 10);
    const opts: LogOptions = {
      stdout: o.stdout, stderr: o.stderr, tail: Number.isFinite(tail) && tail >= 0 ? tail : -1, timestamps: o.timestamps, raw: rec.Config.Tty,
      ...(o.coalesce ? { coalesce: true } : {}),
      ...(o.since ? { since: tsFromUnix(o.since) } : {}),
      ...(o.until ? { until: tsFromUnix(o.until) } : {}),
    };
    const file = this.logPath(rec.Id);
    const first = readLogs(file, this.logLimits(rec).maxFile - 1, opts, (b) => out.write(b));
    if (first.data.length) out.write(first.data);
    const untilPassed = o.until !== undefined && o.until > 0 && o.until * 1000 <= Date.now();
    if (!o.follow || !rec.State.Running || untilPassed) {
      out.end();
      return { stop: () => undefined };
    }
    const f = followLog(file, first.offset, first.ino, { ...opts, tail: -1 }, (b) => out.write(b));
    let stopped = false;
    const stop = (): void => { if (!stopped) { stopped = true; f.stop(); } };
    void this.wait(rec.Id, 'next-exit').then(() => {
      f.flush();
      stop();
      out.end();
    });
    return { stop };
  }

  resize(ref: string, h: number, w: number): void {
    const rec = this.get(ref);
    if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
    if (!rec.Config.Tty) return;
    this.writeCtl(this.bundle(rec.Id), h, w);
  }

  private writeCtl(dir: string, h: number, w: number): void {
    try {
      const fd = fs.openSync(path.join(dir, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      try { fs.writeSync(fd, `1 ${h} ${w}\n`); } finally { fs.closeSync(fd); }
    } catch (e) {
      log.debug('resize failed', { dir, err: e });
    }
  }

  // ---------- stats ----------
  /** Streams stats objects; with stream=false sends one (after a second, so precpu is filled, unless oneShot). */
  statsStream(ref: string, o: { stream: boolean; oneShot: boolean }, write: (obj: unknown) => void, end: () => void): () => void {
    const rec = this.get(ref);
    const cg = this.cgroupPath(rec);
    if (!rec.State.Running) {
      write(renderStats(rec.Id, rec.Name, undefined, undefined));
      end();
      return () => undefined;
    }
    if (!o.stream && o.oneShot) {
      write(renderStats(rec.Id, rec.Name, sampleStats(cg, rec.State.Pid), undefined));
      end();
      return () => undefined;
    }
    let unsub: () => void = () => undefined;
    const onExit = (): void => { unsub(); end(); };
    unsub = this.stats.subscribe(rec.Id, cg, () => rec.State.Pid, (cur, prev) => {
      if (!rec.State.Running) { onExit(); return; }
      if (!o.stream && !prev) return; // wait for a second sample so CPU % can be computed
      write(renderStats(rec.Id, rec.Name, cur, prev));
      if (!o.stream) { unsub(); end(); }
    });
    return () => unsub();
  }

  // ---------- top ----------
  async top(ref: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const rec = this.get(ref);
    if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
    const pids = new Set((await this.runc.pids(rec.Id)).map(String));
    const args = psArgs ? psArgs.split(/\s+/).filter(Boolean) : ['-ef'];
    const out = await new Promise<string>((resolve, reject) => execFile('ps', args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(internal(`Error running ps: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    }));
    const lines = out.split('\n').filter(Boolean);
    const header = lines[0] ?? '';
    const titles = header.trim().split(/\s+/);
    const pidIdx = titles.indexOf('PID');
    if (pidIdx < 0) throw internal(`Couldn't find PID field in ps output`);
    const procs: string[][] = [];
    for (const l of lines.slice(1)) {
      const fields = l.trim().split(/\s+/);
      if (!pids.has(fields[pidIdx] ?? '')) continue;
      // the last column (CMD/COMMAND) may contain spaces
      const row = fields.slice(0, titles.length - 1);
      row.push(fields.slice(titles.length - 1).join(' '));
      procs.push(row);
    }
    return { Titles: titles, Processes: procs };
  }

  // ---------- exec ----------
  execCreate(ref: string, body: Record<string, unknown>): { Id: string } {
    const rec = this.get(ref);
    if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.Id} is paused, unpause the container before exec`);
    const cmd = strArray(body['Cmd'], 'Cmd');
    if (!cmd || !cmd.length) throw invalid('No exec command specified');
    const id = newId();
    let finish: () => void = () => undefined;
    const done = new Promise<void>((r) => { finish = r; });
    const ex: ExecRecord = {
      ID: id,
      ContainerID: rec.Id,
      Running: false,
      ExitCode: null,
      Pid: 0,
      OpenStdin: bool(body['AttachStdin'], 'AttachStdin'),
      OpenStdout: bool(body['AttachStdout'], 'AttachStdout'),
      OpenStderr: bool(body['AttachStderr'], 'AttachStderr'),
      DetachKeys: str(body['DetachKeys'], 'DetachKeys'),
      CanRemove: false,
      ProcessConfig: { tty: bool(body['Tty'], 'Tty'), entrypoint: cmd[0] ?? '', arguments: cmd.slice(1), privileged: bool(body['Privileged'], 'Privileged'), user: str(body['User'], 'User') },
      Env: strArray(body['Env'], 'Env') ?? [],
      WorkingDir: str(body['WorkingDir'], 'WorkingDir'),
      started: false,
      done,
      finish,
    };
    this.execs.set(id, ex);
    this.emit(rec, `exec_create: ${cmd.join(' ')}`, { execID: id });
    return { Id: id };
  }

  getExec(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  execInspect(id: string): Record<string, unknown> {
    const e = this.getExec(id);
    return {
      ID: e.ID, Running: e.Running, ExitCode: e.ExitCode, ProcessConfig: e.ProcessConfig, OpenStdin: e.OpenStdin, OpenStderr: e.OpenStderr,
      OpenStdout: e.OpenStdout, CanRemove: e.CanRemove, ContainerID: e.ContainerID, DetachKeys: e.DetachKeys, Pid: e.Pid,
    };
  }

  /** Starts an exec; with a client socket, streams its I/O there. Resolves when the process has started. */
  async execStart(id: string, opts: { detach: boolean; tty?: boolean }, hijack?: Hijack): Promise<void> {
    const ex = this.getExec(id);
    if (ex.started) throw conflict(`Error: Exec command ${id} has already run`);
    const rec = this.get(ex.ContainerID);
    if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
    if (rec.State.Paused) throw conflict(`Container ${rec.Id} is paused, unpause the container before exec`);
    ex.started = true;
    const conn = !opts.detach && hijack ? hijack() : undefined;
    const client = conn?.socket;
    const head = conn?.head;
    const rootfs = this.rootfs(rec.Id);
    const c = rec.Config;
    const user = resolveUser(rootfs, ex.ProcessConfig.user || c.User, rec.HostConfig.GroupAdd ?? []);
    const tty = opts.tty ?? ex.ProcessConfig.tty;
    ex.ProcessConfig.tty = tty;
    let env = [...c.Env];
    if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
    env = mergeEnv([`HOSTNAME=${c.Hostname}`, ...(tty ? ['TERM=xterm'] : []), ...this.net.linkEnv(rec, false)], env);
    env = mergeEnv(env, ex.Env);
    if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home || '/'}`);
    const caps = effectiveCapabilities(rec.HostConfig.Privileged || ex.ProcessConfig.privileged, rec.HostConfig.CapAdd ?? [], rec.HostConfig.CapDrop ?? []);
    const dir = path.join(this.bundle(rec.Id), 'exec', id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const specPath = path.join(dir, 'process.json');
    fs.writeFileSync(specPath, JSON.stringify(buildExecProcess({
      args: [ex.ProcessConfig.entrypoint, ...ex.ProcessConfig.arguments], env, cwd: ex.WorkingDir || c.WorkingDir || '/',
      uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, terminal: tty, caps, noNewPrivileges: false,
    })));
    const attach = !opts.detach && client !== undefined;
    const h = conmonExec({
      conmonPath: this.o.conmonPath, runtimePath: this.o.runcPath, runtimeRoot: path.join(this.o.execRoot, 'runc'),
      containerId: rec.Id, execId: id, dir, processSpecPath: specPath, terminal: tty, stdin: ex.OpenStdin && attach, attach,
    });
    const cmdline = [ex.ProcessConfig.entrypoint, ...ex.ProcessConfig.arguments].join(' ');
    let clientDone: Promise<void> = Promise.resolve();
    if (attach && client) {
      try {
        await h.attachReady;
      } catch (e) {
        ex.ExitCode = 126;
        ex.finish();
        throw internal(errorMessage(e));
      }
      let endClient: () => void = () => undefined;
      clientDone = new Promise((r) => { endClient = r; });
      const s = attachClient(client, {
        dir, helper: this.o.attachHelper, tty, stdin: ex.OpenStdin, stdout: ex.OpenStdout, stderr: ex.OpenStderr, detachKeys: parseDetachKeys(ex.DetachKeys || null),
        // The CLI reads the exit code as soon as the stream ends: record it first.
        holdEndUntil: h.exit.catch(() => undefined),
        onEnd: () => endClient(),
      }, head);
      await s.ready.catch(() => undefined);
    }
    h.start();
    let pid: number;
    try {
      pid = await h.pid;
    } catch (e) {
      const msg = errorMessage(e);
      ex.ExitCode = exitCodeForStartError(msg);
      ex.Running = false;
      ex.finish();
      fs.rmSync(dir, { recursive: true, force: true });
      if (client) {
        // The stream is already open: say it in-band, as Docker's exec does.
        const text = `OCI runtime exec failed: ${msg}: unknown\r\n`;
        if (!tty) {
          const hdr = Buffer.alloc(8); hdr[0] = 1; hdr.writeUInt32BE(Buffer.byteLength(text), 4);
          client.write(Buffer.concat([hdr, Buffer.from(text)]));
        } else client.write(text);
        client.end();
        return;
      }
      throw startErrorFor(msg);
    }
    ex.Pid = pid;
    ex.Running = true;
    if (ex.pendingSize) this.writeCtl(dir, ex.pendingSize[0], ex.pendingSize[1]);
    this.emit(rec, `exec_start: ${cmdline}`, { execID: id });
    void h.exit.then((code) => {
      ex.ExitCode = code;
      ex.Running = false;
      ex.Pid = 0;
      ex.finish();
      this.emit(rec, 'exec_die', { execID: id, exitCode: String(code) });
      void clientDone.then(() => fs.rmSync(dir, { recursive: true, force: true }));
    });
  }

  execResize(id: string, h: number, w: number): void {
    const ex = this.getExec(id);
    if (!ex.ProcessConfig.tty) return;
    if (!ex.Running) { ex.pendingSize = [h, w]; return; }
    this.writeCtl(path.join(this.bundle(ex.ContainerID), 'exec', id), h, w);
  }

  // ---------- views ----------
  statusText(rec: ContainerRecord): string {
    const s = rec.State;
    const now = Date.now();
    if (s.Status === 'removing') return 'Removal In Progress';
    if (s.Running) {
      const up = `Up ${humanDuration(now - Date.parse(s.StartedAt))}`;
      if (s.Paused) return `${up} (Paused)`;
      if (s.Health) return `${up} (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})`;
      return up;
    }
    if (s.Status === 'restarting') return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    if (s.Dead) return 'Dead';
    if (s.StartedAt === ZERO_TIME) return 'Created';
    if (s.FinishedAt === ZERO_TIME) return '';
    return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  }

  private mounts(rec: ContainerRecord): unknown[] {
    return this.mnt.inspect(rec);
  }

  list(o: { all: boolean; limit: number; size: boolean; filters: Filters }): unknown[] {
    checkFilterKeys(o.filters, ['id', 'name', 'label', 'label!', 'status', 'ancestor', 'exited', 'before', 'since', 'network', 'volume', 'health', 'isolation', 'is-task', 'publish', 'expose']);
    let recs = this.all().sort((a, b) => (b.Created < a.Created ? -1 : b.Created > a.Created ? 1 : 0));
    const f = o.filters;
    const statusF = f.get('status');
    for (const s of statusF ?? []) if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(s)) throw invalid(`Invalid filter 'status=${s}'`);
    for (const k of ['publish', 'expose']) portFilterMatch(f.get(k) ?? [], []); // a bad value is an error even when nothing is listed
    const all = o.all || !!statusF?.length || !!f.get('exited')?.length;
    if (!all) recs = recs.filter((r) => r.State.Running || r.State.Restarting);
    const before = f.get('before')?.[0], since = f.get('since')?.[0];
    if (before) { const b = this.get(before); recs = recs.filter((r) => r.Created < b.Created); }
    if (since) { const s = this.get(since); recs = recs.filter((r) => r.Created > s.Created); }
    recs = recs.filter((r) => {
      if (f.get('id')?.length && !f.get('id')!.some((v) => r.Id.startsWith(v))) return false;
      if (f.get('name')?.length && !f.get('name')!.some((v) => { try { return new RegExp(v).test(r.Name); } catch { return r.Name.includes(v); } })) return false;
      if (!matchLabels(f, r.Config.Labels)) return false;
      if (statusF?.length && !statusF.includes(r.State.Status)) return false;
      if (f.get('exited')?.length && (r.State.Running || r.State.StartedAt === ZERO_TIME || !f.get('exited')!.includes(String(r.State.ExitCode)))) return false;
      if (f.get('ancestor')?.length && !f.get('ancestor')!.some((a) => {
        const img = this.o.images.tryGet(a);
        return (img && img.id === r.Image) || r.Config.Image === a;
      })) return false;
      if (f.get('network')?.length) {
        const nets = Object.entries((this.net.summary(r).Networks ?? {}) as Record<string, { NetworkID?: string }>);
        if (!f.get('network')!.some((n) => nets.some(([name, v]) => name === n || (!!v.NetworkID && v.NetworkID.startsWith(n))))) return false;
      }
      if (f.get('health')?.length && !f.get('health')!.includes(r.State.Health?.Status ?? 'none')) return false;
      // volume=<name or mount point>, as moby matches MountPoints by name or destination
      if (f.get('volume')?.length) {
        const mounts = this.mounts(r) as Array<{ Name?: string; Destination?: string; Source?: string }>;
        if (!f.get('volume')!.some((v) => mounts.some((m) => m.Name === v || m.Destination === v))) return false;
      }
      if (f.get('publish')?.length) {
        const published = Object.keys(r.HostConfig.PortBindings ?? {}).filter((k) => (r.HostConfig.PortBindings?.[k] ?? []).length > 0);
        if (r.HostConfig.PublishAllPorts) published.push(...Object.keys(r.Config.ExposedPorts ?? {}));
        if (!portFilterMatch(f.get('publish')!, published)) return false;
      }
      if (f.get('expose')?.length && !portFilterMatch(f.get('expose')!, Object.keys(r.Config.ExposedPorts ?? {}))) return false;
      if (f.get('isolation')?.length && !f.get('isolation')!.includes(r.HostConfig.Isolation || 'default') && !f.get('isolation')!.includes(r.HostConfig.Isolation ?? '')) return false;
      // no swarm here: nothing is a task
      if (f.get('is-task')?.length && f.get('is-task')!.includes('true')) return false;
      return true;
    });
    if (o.limit > 0) recs = recs.slice(0, o.limit);
    return recs.map((r) => {
      const net = this.net.summary(r);
      const item: Record<string, unknown> = {
        Id: r.Id,
        Names: [r.Name],
        Image: r.Config.Image,
        ImageID: r.Image,
        Command: quoteArgs(r.Path, r.Args),
        Created: Math.floor(Date.parse(r.Created) / 1000),
        Ports: net.Ports,
        Labels: r.Config.Labels ?? {},
        State: r.State.Status,
        Status: this.statusText(r),
        HostConfig: { NetworkMode: r.HostConfig.NetworkMode },
        NetworkSettings: { Networks: net.Networks },
        Mounts: this.mounts(r),
      };
      if (o.size) {
        item['SizeRw'] = 0;
        item['SizeRootFs'] = 0;
      }
      return item;
    });
  }

  inspect(ref: string, _size: boolean): Record<string, unknown> {
    const r = this.get(ref);
    const execIds = [...this.execs.values()].filter((e) => e.ContainerID === r.Id).map((e) => e.ID);
    const dir = this.dir(r.Id);
    const state: Record<string, unknown> = { ...r.State };
    if (!r.State.Health) delete state['Health'];
    const hc: Record<string, unknown> = { ...r.HostConfig };
    // Docker fills these paths when the container first starts (network set-up, logger).
    const started = r.State.StartedAt !== ZERO_TIME || r.State.Running;
    const p = (file: string): string => (started ? file : '');
    return {
      Id: r.Id,
      Created: r.Created,
      Path: r.Path,
      Args: r.Args,
      State: state,
      Image: r.Image,
      ResolvConfPath: p(path.join(dir, 'resolv.conf')),
      HostnamePath: p(path.join(dir, 'hostname')),
      HostsPath: p(path.join(dir, 'hosts')),
      LogPath: p(this.logPath(r.Id)),
      Name: r.Name,
      RestartCount: r.RestartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: execIds.length ? execIds : null,
      HostConfig: hc,
      GraphDriver: { Name: 'overlay2', Data: this.graphData(r) },
      Mounts: this.mounts(r),
      Config: r.Config,
      NetworkSettings: this.net.inspect(r),
    };
  }

  /** Docker's overlay2 GraphDriver.Data: LowerDir lists the image layers, top first. */
  private graphData(r: ContainerRecord): Record<string, string> {
    const snaps = this.o.images.snapshots;
    const upper = snaps.upperDir(r.Id);
    const data: Record<string, string> = {};
    try {
      if (r.SnapshotParent && snaps.layerChain && snaps.layerPath) data['LowerDir'] = snaps.layerChain(r.SnapshotParent).reverse().map((c) => snaps.layerPath!(c)).join(':');
    } catch { /* a layer went missing: show what is known */ }
    return { ...data, MergedDir: this.rootfs(r.Id), UpperDir: upper, WorkDir: path.join(path.dirname(upper), 'work') };
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    let running = 0, paused = 0, stopped = 0;
    for (const r of this.records.values()) {
      if (r.State.Paused) paused++;
      else if (r.State.Running) running++;
      else stopped++;
    }
    return { total: this.records.size, running, paused, stopped };
  }

  /** Removes stopped containers (POST /containers/prune). */
  async prune(filters: Filters): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    const until = filters.get('until')?.[0];
    const untilMs = until ? (await import('../common/filters')).parseTimestamp(until) : undefined;
    for (const r of this.all()) {
      if (r.State.Running) continue;
      if (!matchLabels(filters, r.Config.Labels)) continue;
      if (untilMs !== undefined && Date.parse(r.Created) > untilMs) continue;
      await this.remove(r.Id, false, false).then(() => deleted.push(r.Id), () => undefined);
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
  }

  private unmountQuiet(target: string): void {
    try {
      native().umount(target, 0);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EBUSY') {
        try { native().umount(target, MNT_DETACH); } catch { /* nothing more to do */ }
      } else if (code !== 'EINVAL' && code !== 'ENOENT') log.warn('unmount failed', { target, err: e });
    }
  }
}

/**
 * `ps --filter publish=|expose=` values: `80`, `80/tcp`, `8000-8080/udp`
 * (moby's portOp); a container matches when one of its container ports is in.
 */
export function portFilterMatch(values: string[], ports: string[]): boolean {
  const have = new Set(ports.map((p) => (p.includes('/') ? p : `${p}/tcp`)));
  for (const v of values) {
    const [range, proto = 'tcp'] = v.split('/', 2) as [string, string?];
    const m = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (!m) throw invalid(`Invalid filter '${v}'`);
    const lo = Number(m[1]), hi = Number(m[2] ?? m[1]);
    if (hi < lo || hi > 65535) throw invalid(`Invalid filter '${v}'`);
    for (let p = lo; p <= hi; p++) if (have.has(`${p}/${proto}`)) return true;
  }
  return false;
}
