// The composition root: builds every service in dependency order, implements
// the API backends over them, and owns the listeners.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildRouter, createHttpHandler, API_VERSION, MIN_API_VERSION, type Backends } from '../api';
import { Builder } from '../build';
import { notFound } from '../common/errors';
import type { Filters } from '../common/filters';
import { log, phases } from '../common/log';
import { native, LOCK_EX, LOCK_NB, buildDir } from '../common/native';
import { ContainerService } from '../containers';
import { ContainerFilesystem } from '../containers/filesystem';
import { createDistributionBackend } from '../distribution/backend';
import { DEFAULT_REGISTRY_CONFIG, registryInfo, type RegistryConfig } from '../distribution/config';
import { EventBus, eventJson, matchEvent } from '../events';
import { createImageService, parsePlatform, type ImageService } from '../images';
import { createNetworkService, type NetworkService } from '../network';
import { VolumeMounts, VolumeService } from '../volumes';
import type { DaemonConfig } from './config';
import { MemoryReclaimer } from './memory';

export const BERTH_VERSION = '0.1.0';

function cgroupVersion(): '1' | '2' {
  return fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
}

function osRelease(): { pretty: string; version: string } {
  try {
    const t = fs.readFileSync('/etc/os-release', 'utf8');
    const get = (k: string): string => (new RegExp(`^${k}="?([^"\\n]*)"?`, 'm').exec(t)?.[1] ?? '');
    return { pretty: get('PRETTY_NAME') || 'Linux', version: get('VERSION_ID') };
  } catch {
    return { pretty: 'Linux', version: '' };
  }
}

export class Daemon {
  readonly events = new EventBus();
  images!: ImageService;
  containers!: ContainerService;
  volumes!: VolumeService;
  filesystem!: ContainerFilesystem;
  networks!: NetworkService;
  private servers: Array<http.Server | https.Server> = [];
  private memory = new MemoryReclaimer();
  private lockFd = -1;
  /** The registry settings in effect (set when the API backends are built). */
  private registryCfg: RegistryConfig | undefined;
  private readonly id: string;

  constructor(readonly cfg: DaemonConfig) {
    this.id = '';
  }

  async start(): Promise<void> {
    const { cfg } = this;
    const ph = phases('daemon start', 'berthd');
    ph.mark(`node ${(performance.now()).toFixed(0)}ms`);
    fs.mkdirSync(cfg.dataRoot, { recursive: true, mode: 0o711 });
    fs.mkdirSync(cfg.execRoot, { recursive: true, mode: 0o711 });
    this.lock();
    fs.mkdirSync(path.dirname(cfg.pidfile), { recursive: true });
    fs.writeFileSync(cfg.pidfile, String(process.pid));
    this.images = await createImageService({ root: cfg.dataRoot, events: this.events.publish });
    this.networks = createNetworkService({ root: path.join(cfg.dataRoot, 'network'), events: this.events.publish, configFile: cfg.configFile ?? '/etc/berth/daemon.json', flags: cfg.network });
    ph.mark('images');
    await this.networks.init();
    ph.mark('networks');
    this.volumes = new VolumeService(path.join(cfg.dataRoot, 'volumes'), this.events.publish);
    this.volumes.init();
    const mounts = new VolumeMounts(this.volumes);
    this.containers = new ContainerService({
      dataRoot: cfg.dataRoot,
      execRoot: cfg.execRoot,
      runcPath: cfg.runtimePath,
      conmonPath: cfg.conmonPath,
      attachHelper: path.join(buildDir(), 'berth-attach'),
      images: this.images,
      events: this.events.publish,
      networks: this.networks,
      mounts,
    });
    mounts.setContainers(this.containers);
    await this.containers.init();
    ph.mark('containers');
    this.volumes.restore(this.containers.all().map((r) => ({ id: r.Id, volumes: VolumeMounts.volumesOf(r) })));
    this.filesystem = new ContainerFilesystem(this.containers, this.images, this.volumes);
    this.events.subscribe((e) => this.filesystem.onEvent(e));
    await this.networks.afterRestore();
    ph.mark('net-restore');
    const router = buildRouter(this.backends());
    const handler = createHttpHandler(router);
    const memory = this.memory;
    const onRequest: http.RequestListener = (req, res) => { res.once('close', () => memory.poke()); handler.onRequest(req, res); };
    const onUpgrade = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void => {
      socket.once('close', () => memory.poke());
      handler.onUpgrade(req, socket, head);
    };
    for (const host of cfg.hosts) await this.listen(host, onRequest, onUpgrade);
    ph.mark('listen');
    ph.done();
  }

  private lock(): void {
    const file = path.join(this.cfg.dataRoot, 'engine.lock');
    this.lockFd = fs.openSync(file, 'a');
    try {
      native().flock(this.lockFd, LOCK_EX | LOCK_NB);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EWOULDBLOCK' && (e as { code?: string }).code !== 'EAGAIN') throw e;
      throw new Error(`another berthd is using data-root ${this.cfg.dataRoot} (lock ${file} is held)`);
    }
  }

  private async listen(host: string, onRequest: http.RequestListener, onUpgrade: (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void): Promise<void> {
    const { cfg } = this;
    let server: http.Server | https.Server;
    const m = /^(unix|tcp|fd):\/\/(.*)$/.exec(host.includes('://') ? host : `tcp://${host}`);
    if (!m) throw new Error(`invalid host: ${host}`);
    const proto = m[1]!, addr = m[2]!;
    if (proto === 'tcp' && cfg.tls) {
      if (!cfg.tlsCert || !cfg.tlsKey) throw new Error('--tlscert and --tlskey are required with --tls');
      server = https.createServer({
        cert: fs.readFileSync(cfg.tlsCert), key: fs.readFileSync(cfg.tlsKey),
        ...(cfg.tlsCaCert ? { ca: fs.readFileSync(cfg.tlsCaCert) } : {}),
        requestCert: cfg.tlsVerify, rejectUnauthorized: cfg.tlsVerify,
      }, onRequest);
    } else {
      server = http.createServer(onRequest);
    }
    server.on('upgrade', onUpgrade);
    server.keepAliveTimeout = 0; // streams (logs -f, events) stay open as long as clients want
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    if (proto === 'unix') {
      fs.mkdirSync(path.dirname(addr), { recursive: true });
      fs.rmSync(addr, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(addr, () => resolve());
      });
      fs.chmodSync(addr, 0o660);
      const gid = this.groupId(cfg.group);
      if (gid !== undefined) fs.chownSync(addr, 0, gid);
    } else if (proto === 'tcp') {
      const i = addr.lastIndexOf(':');
      const hostname = addr.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
      const port = Number(addr.slice(i + 1) || (cfg.tls ? 2376 : 2375));
      if (!cfg.tls) log.warn('API listening on TCP without TLS: anyone who can reach it has root on this host', { host });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, hostname, () => resolve());
      });
    } else {
      throw new Error(`unsupported host protocol: ${proto}`);
    }
    log.info('API listen on ' + addr);
    this.servers.push(server);
  }

  private groupId(name: string): number | undefined {
    try {
      const line = fs.readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
      return line ? Number(line.split(':')[2]) : undefined;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.close();
      (s as http.Server).closeAllConnections?.();
    }
    this.memory.close();
    this.containers?.close();
    this.networks?.close();
    // Layers are otherwise flushed in the background; a clean stop leaves none for the next start to check.
    await this.images?.snapshots.flush().catch(() => undefined);
    fs.rmSync(this.cfg.pidfile, { force: true });
    for (const h of this.cfg.hosts) if (h.startsWith('unix://')) fs.rmSync(h.slice(7), { force: true });
  }

  // ---------- the API backends ----------
  private backends(): Backends {
    const c = this.containers;
    const images = this.images;
    const fsys = this.filesystem;
    const vols = this.volumes;
    const dist = createDistributionBackend({ images, dataRoot: this.cfg.dataRoot, registry: this.cfg.registry, ...(this.cfg.configFile ? { configFile: this.cfg.configFile } : {}) });
    this.registryCfg = dist.distribution.client.cfg;
    const builder = new Builder({ dataRoot: this.cfg.dataRoot, images, containers: c, usingImage: (id) => c.usingImage(id), pull: (o, w, sig) => dist.pull(o, w, sig) });
    return {
      system: {
        version: () => this.version(),
        info: () => this.info(),
        df: () => ({ ...fsys.diskUsage(), ...builder.df() }),
        events: (o, onEvent) => {
          const MAX = 1n << 62n;
          const sinceNano = o.since !== undefined ? BigInt(Math.floor(o.since * 1e6)) : MAX;
          const untilNano = o.until !== undefined ? BigInt(Math.floor(o.until * 1e6)) : MAX;
          const history = o.since !== undefined ? this.events.history(sinceNano, untilNano).filter((e) => matchEvent(o.filters, e)).map(eventJson) : [];
          const unsubscribe = this.events.subscribe((e) => {
            if (e.timeNano <= untilNano && matchEvent(o.filters, e)) onEvent(eventJson(e));
          });
          return { history, unsubscribe };
        },
      },
      containers: {
        create: (body, name, platform) => {
          if (platform) this.checkPlatform(String(body['Image'] ?? ''), platform);
          return c.create(body, name);
        },
        start: (ref) => c.start(ref),
        stop: (ref, t, sig) => c.stop(ref, t, sig),
        restart: (ref, t, sig) => c.restart(ref, t, sig),
        kill: (ref, sig) => c.kill(ref, sig),
        remove: (ref, force, v) => c.remove(ref, force, v),
        rename: (ref, n) => c.rename(ref, n),
        update: (ref, body) => c.update(ref, body),
        pause: (ref) => c.pause(ref),
        unpause: (ref) => c.unpause(ref),
        wait: (ref, cond) => c.wait(ref, cond),
        attach: (ref, hijack, o) => c.attach(ref, hijack, o),
        logs: (ref, out, o) => c.logs(ref, out, o),
        isTty: (ref) => c.logsTty(ref),
        resize: (ref, h, w) => c.resize(ref, h, w),
        top: (ref, a) => c.top(ref, a),
        stats: (ref, o, w, e) => c.statsStream(ref, o, w, e),
        list: (o) => (o.size ? fsys.withSizes(c.list(o)) : c.list(o)),
        inspect: (ref, size) => (size ? fsys.withSizes([c.inspect(ref, size)])[0] : c.inspect(ref, size)),
        prune: (f) => fsys.pruneContainers(f),
        execCreate: (ref, body) => c.execCreate(ref, body),
        execStart: (id, o, hijack) => c.execStart(id, o, hijack),
        execInspect: (id) => c.execInspect(id),
        execResize: (id, h, w) => c.execResize(id, h, w),
      },
      networks: this.networks,
      volumes: {
        create: (o) => vols.view(vols.create(o.name || undefined, { driver: o.driver, options: o.options, labels: o.labels })),
        list: (f) => vols.list(f),
        inspect: (name) => vols.view(vols.get(name)),
        remove: (name, force) => vols.remove(name, force),
        prune: (f, v) => fsys.pruneVolumes(f, v),
      },
      filesystem: {
        statPath: (ref, p) => fsys.statPath(ref, p),
        getArchive: (ref, p, begin) => fsys.getArchive(ref, p, begin),
        putArchive: (ref, p, body, o) => fsys.putArchive(ref, p, body, o),
        changes: (ref) => fsys.changes(ref),
        export: (ref, out) => fsys.export(ref, out),
        commit: (ref, o) => fsys.commit(ref, o),
      },
      distribution: dist,
      build: { build: (body, o, out, sig) => builder.build(body, o, out, sig, o.remote), prune: (o) => builder.prune(o) },
      images: {
        importTar: (body, o) => images.importTar(body, o),
        list: (o) => images.list({ all: o.all, filters: o.filters, containersUsing: (id: string) => c.usingImage(id).length }),
        inspect: (ref) => images.inspect(ref),
        history: (ref) => images.history(ref),
        tag: (ref, repo, tag) => images.tag(ref, repo, tag),
        remove: (ref, force, noprune) => images.remove(ref, { force, noprune, usedBy: (id: string) => c.usingImage(id), isRunning: (cid: string) => c.find(cid)?.State.Running === true }),
        prune: (f: Filters) => images.prune(f, (id) => c.usingImage(id)),
      },
    };
  }

  /** Docker's answer (a 404, so the CLI pulls the right variant) when the local image is for another platform. */
  private checkPlatform(ref: string, platform: string): void {
    const want = parsePlatform(platform);
    const img = this.images.tryGet(ref);
    if (!img) return; // the create itself reports the missing image
    const c = img.config;
    const have = { os: c.os || 'linux', architecture: c.architecture || want.architecture, variant: c.variant ?? '' };
    const fmt = (p: { os: string; architecture: string; variant: string }): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');
    if (have.os !== want.os || have.architecture !== want.architecture || (want.variant && have.variant && want.variant !== have.variant)) {
      throw notFound(`image with reference ${ref} was found but its platform (${fmt(have)}) does not match the specified platform (${fmt(want)})`);
    }
  }

  version(): Record<string, unknown> {
    const details = {
      ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      GitCommit: 'berth', GoVersion: `node${process.versions.node}`, KernelVersion: os.release(), BuildTime: '2026-11-22T00:00:00.000000000+00:00', Experimental: 'false',
    };
    return {
      Platform: { Name: `berth ${BERTH_VERSION}` },
      Components: [{ Name: 'Engine', Version: BERTH_VERSION, Details: details }],
      Version: BERTH_VERSION,
      ...details,
      Experimental: false,
    };
  }

  info(): Record<string, unknown> {
    const counts = this.containers.counts();
    const imageCount = this.images.all().length; // counting needs no rendered summaries
    const rel = osRelease();
    const cgv = cgroupVersion();
    return {
      ID: this.daemonId(),
      Containers: counts.total,
      ContainersRunning: counts.running,
      ContainersPaused: counts.paused,
      ContainersStopped: counts.stopped,
      Images: imageCount,
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Native Overlay Diff', 'true']],
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'k8s-file', 'none'] },
      MemoryLimit: true,
      SwapLimit: fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') || cgv === '2',
      KernelMemory: false,
      KernelMemoryTCP: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: true,
      BridgeNfIptables: false,
      BridgeNfIp6tables: false,
      Debug: false,
      NFd: (() => { try { return fs.readdirSync('/proc/self/fd').length; } catch { return 0; } })(),
      OomKillDisable: cgv === '1',
      NGoroutines: 1,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: cgv,
      NEventsListener: this.events.listenerCount,
      KernelVersion: os.release(),
      OperatingSystem: rel.pretty,
      OSVersion: rel.version,
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryInfo(this.registryCfg ?? DEFAULT_REGISTRY_CONFIG),
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: this.cfg.dataRoot,
      HttpProxy: process.env['HTTP_PROXY'] ?? '',
      HttpsProxy: process.env['HTTPS_PROXY'] ?? '',
      NoProxy: process.env['NO_PROXY'] ?? '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION,
      Runtimes: { runc: { path: this.cfg.runtimePath } },
      DefaultRuntime: 'runc',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: '', Expected: '' },
      InitCommit: { ID: '', Expected: '' },
      SecurityOptions: ['name=cgroupns'.replace('cgroupns', cgv === '2' ? 'cgroupns' : 'seccomp,profile=unconfined')],
      Warnings: null,
    };
  }

  private daemonId(): string {
    const f = path.join(this.cfg.dataRoot, 'engine-id');
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      const id = require('node:crypto').randomUUID() as string;
      fs.writeFileSync(f, id);
      return id;
    }
  }
}
