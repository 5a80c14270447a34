// A tiny in-process fake Docker daemon on a unix socket, for CLI tests. It
// answers the requests the CLI makes with canned state, supports hijacked
// attach / exec start streams, and records every request for assertions.
// Run directly (node cli-fake-daemon.js SOCKET) it serves until killed, which
// is handy for comparing `berth` and `docker` output side by side.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Socket } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  upgrade: boolean;
}

/** What a container does when started: output, then exit. */
export interface Program {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  /** Echo stdin back on stdout until the client half-closes (like `cat`). */
  cat?: boolean;
  /** Keep running after output (exit only on kill/stop). */
  keepRunning?: boolean;
  /** The daemon's detach keys: this input ends the attach stream, the container keeps running. */
  detachOn?: string;
}

export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  tty: boolean;
  openStdin: boolean;
  autoRemove: boolean;
  running: boolean;
  exitCode: number;
  program: Program;
  created: number;
  labels: Record<string, string>;
}

function frame(stream: number, data: string | Buffer): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(b.length, 4);
  return Buffer.concat([h, b]);
}

function send(res: http.ServerResponse, status: number, body?: unknown): void {
  res.statusCode = status;
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body) + '\n');
}

export class FakeDaemon {
  readonly requests: Recorded[] = [];
  readonly containers = new Map<string, FakeContainer>();
  images: Record<string, unknown>[] = [];
  imageInspect: Record<string, unknown> = {};
  listContainers: Record<string, unknown>[] = [];
  events: Record<string, unknown>[] = [];
  logs: { stream: number; text: string }[] = [];
  /** Programs for images by name (used by create). */
  programs: Record<string, Program> = {};
  /** Overrides: return true when handled. */
  handler?: (req: Recorded, res: http.ServerResponse) => boolean;
  private server: http.Server;
  private waiters = new Map<string, ((code: number) => void)[]>();
  private attachments = new Map<string, { sock: Socket; stdin: boolean; stdinClosed?: boolean }[]>();
  private seq = 0;
  private execs = new Map<string, { container: string; cmd: string[]; tty: boolean; exitCode: number | null; stdin: boolean }>();

  constructor(readonly socketPath: string) {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: http.IncomingMessage, sock: Socket, head: Buffer) => this.onUpgrade(req, sock, head));
  }

  start(): Promise<void> {
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      // not there
    }
    return new Promise((resolve) => this.server.listen(this.socketPath, () => resolve()));
  }

  stop(): Promise<void> {
    for (const list of this.attachments.values()) for (const a of list) a.sock.destroy();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  addContainer(c: Partial<FakeContainer> & { name: string }): FakeContainer {
    const id = (c.id ?? `${(++this.seq).toString(16).padStart(4, '0')}${c.name}`).replace(/[^0-9a-f]/g, 'a').padEnd(64, '0').slice(0, 64);
    const full: FakeContainer = {
      id, name: c.name, image: c.image ?? 'busybox', tty: c.tty ?? false, openStdin: c.openStdin ?? false, autoRemove: c.autoRemove ?? false,
      running: c.running ?? false, exitCode: c.exitCode ?? 0, program: c.program ?? {}, created: c.created ?? Math.floor(Date.now() / 1000),
      labels: c.labels ?? {},
    };
    this.containers.set(id, full);
    return full;
  }

  find(ref: string): FakeContainer | undefined {
    const r = ref.replace(/^\//, '');
    for (const c of this.containers.values()) if (c.id === r || c.name === r || (r.length >= 3 && c.id.startsWith(r))) return c;
    return undefined;
  }

  private record(req: http.IncomingMessage, body: string, upgrade: boolean): Recorded {
    const u = new URL(req.url ?? '/', 'http://x');
    const rec: Recorded = { method: req.method ?? '', path: u.pathname.replace(/^\/v[0-9.]+/, ''), query: u.searchParams, headers: req.headers, body, upgrade };
    this.requests.push(rec);
    return rec;
  }

  private inspectDoc(c: FakeContainer): Record<string, unknown> {
    return {
      Id: c.id, Created: new Date(c.created * 1000).toISOString(), Path: 'sh', Args: [],
      State: { Status: c.running ? 'running' : 'exited', Running: c.running, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: c.running ? 1234 : 0, ExitCode: c.exitCode, Error: '', StartedAt: '', FinishedAt: '' },
      Image: 'sha256:' + 'b'.repeat(64), Name: '/' + c.name,
      HostConfig: { AutoRemove: c.autoRemove, NetworkMode: 'default' },
      Config: { Tty: c.tty, OpenStdin: c.openStdin, Image: c.image, Env: ['PATH=/bin'], Labels: c.labels },
      NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }], '53/udp': null }, IPAddress: '172.17.0.2', Networks: { bridge: { IPAddress: '172.17.0.2' } } },
      Mounts: [],
    };
  }

  private finish(c: FakeContainer, code: number): void {
    c.running = false;
    c.exitCode = code;
    const fire = (): void => {
      for (const w of this.waiters.get(c.id) ?? []) w(code);
      this.waiters.delete(c.id);
    };
    // let output drain before answering /wait and closing attach streams
    setTimeout(() => {
      for (const a of this.attachments.get(c.id) ?? []) a.sock.end();
      this.attachments.delete(c.id);
      if (c.autoRemove) this.containers.delete(c.id);
      fire();
    }, 20);
  }

  private run(c: FakeContainer): void {
    c.running = true;
    const p = c.program;
    const atts = this.attachments.get(c.id) ?? [];
    for (const a of atts) {
      if (p.stdout) a.sock.write(c.tty ? Buffer.from(p.stdout) : frame(1, p.stdout));
      if (p.stderr) a.sock.write(c.tty ? Buffer.from(p.stderr) : frame(2, p.stderr));
    }
    if (p.keepRunning) return;
    if (p.cat && atts.some((a) => a.stdin && !a.stdinClosed)) return; // exits when stdin closes
    this.finish(c, p.exitCode ?? 0);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const rec = this.record(req, Buffer.concat(chunks).toString(), false);
      res.setHeader('Api-Version', '1.41');
      res.setHeader('Ostype', 'linux');
      res.setHeader('Docker-Experimental', 'false');
      if (this.handler?.(rec, res)) return;
      this.route(rec, res);
    });
  }

  private route(rec: Recorded, res: http.ServerResponse): void {
    const p = rec.path;
    let m: RegExpExecArray | null;
    if (p === '/_ping') {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(rec.method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (p === '/version') {
      send(res, 200, { Platform: { Name: '' }, Components: [{ Name: 'Engine', Version: '20.10.24', Details: { ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64', GitCommit: 'abc', GoVersion: 'go1.x', KernelVersion: '6.1', BuildTime: '2024-01-01T00:00:00.000000000+00:00', Experimental: 'false' } }], Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', GitCommit: 'abc', GoVersion: 'go1.x', Os: 'linux', Arch: 'amd64', KernelVersion: '6.1', BuildTime: '2024-01-01T00:00:00.000000000+00:00' });
      return;
    }
    if (p === '/info') {
      send(res, 200, { ID: 'x', Containers: this.containers.size, ContainersRunning: 0, ContainersPaused: 0, ContainersStopped: 0, Images: this.images.length, Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']], Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Log: ['json-file'] }, OSType: 'linux', Architecture: 'x86_64', NCPU: 4, MemTotal: 8 * 1024 ** 3, Name: 'host', ServerVersion: '20.10.24', KernelVersion: '6.1', OperatingSystem: 'Debian', LoggingDriver: 'json-file', CgroupDriver: 'cgroupfs', CgroupVersion: '2', DockerRootDir: '/var/lib/berth', Swarm: { LocalNodeState: 'inactive', ControlAvailable: false }, Runtimes: { runc: { path: 'runc' } }, DefaultRuntime: 'runc', SecurityOptions: ['name=seccomp,profile=default'], Labels: [], Warnings: null });
      return;
    }
    if (p === '/containers/json') {
      const all = rec.query.get('all') === '1';
      send(res, 200, this.listContainers.filter((c) => all || c.State === 'running'));
      return;
    }
    if (p === '/images/json') {
      send(res, 200, this.images);
      return;
    }
    if (p === '/events') {
      res.setHeader('Content-Type', 'application/json');
      res.flushHeaders();
      for (const e of this.events) res.write(JSON.stringify(e) + '\n');
      res.end();
      return;
    }
    if ((m = /^\/images\/(.+)\/json$/.exec(p))) {
      const doc = this.imageInspect[m[1]!];
      if (doc) send(res, 200, doc);
      else send(res, 404, { message: `No such image: ${m[1]}` });
      return;
    }
    if ((m = /^\/(networks|volumes)\/(.+)$/.exec(p)) || (m = /^\/(plugins)\/(.+)\/json$/.exec(p))) {
      const what = m[1] === 'networks' ? `network ${m[2]} not found` : m[1] === 'volumes' ? `get ${m[2]}: no such volume` : `plugin "${m[2]}" not found`;
      send(res, 404, { message: what });
      return;
    }
    if (p === '/containers/create') {
      const body = JSON.parse(rec.body) as { Image: string; Tty: boolean; OpenStdin: boolean; HostConfig: { AutoRemove: boolean }; Labels?: Record<string, string> };
      const program = this.programs[body.Image];
      if (!program) {
        send(res, 404, { message: `No such image: ${body.Image}:latest` });
        return;
      }
      const name = rec.query.get('name') ?? `c${this.seq + 1}`;
      if (this.find(name)) {
        send(res, 409, { message: `Conflict. The container name "/${name}" is already in use by container "x". You have to remove (or rename) that container to be able to reuse that name.` });
        return;
      }
      const c = this.addContainer({ name, image: body.Image, tty: body.Tty, openStdin: body.OpenStdin, autoRemove: body.HostConfig.AutoRemove, program, labels: body.Labels ?? {} });
      send(res, 201, { Id: c.id, Warnings: [] });
      return;
    }
    if ((m = /^\/exec\/([^/]+)\/json$/.exec(p))) {
      const e = this.execs.get(m[1]!);
      if (!e) send(res, 404, { message: `No such exec instance: ${m[1]}` });
      else send(res, 200, { ID: m[1], Running: false, ExitCode: e.exitCode, ContainerID: e.container });
      return;
    }
    if ((m = /^\/exec\/([^/]+)\/(start|resize)$/.exec(p))) {
      send(res, m[2] === 'start' ? 200 : 201);
      return;
    }
    m = /^\/containers\/([^/]+)(?:\/([a-z]+))?$/.exec(p);
    if (!m) {
      send(res, 404, { message: 'page not found' });
      return;
    }
    const c = this.find(m[1]!);
    const verb = m[2] ?? '';
    if (!c) {
      send(res, 404, { message: `No such container: ${m[1]}` });
      return;
    }
    switch (verb) {
      case 'json':
        send(res, 200, this.inspectDoc(c));
        return;
      case 'start':
        if (c.running) {
          send(res, 304);
          return;
        }
        if (c.program.stderr?.startsWith('START-FAIL:')) {
          send(res, 400, { message: c.program.stderr.slice('START-FAIL:'.length) });
          if (c.autoRemove) this.finish(c, 127);
          return;
        }
        send(res, 204);
        setTimeout(() => this.run(c), 5);
        return;
      case 'wait': {
        res.setHeader('Content-Type', 'application/json');
        res.statusCode = 200;
        res.flushHeaders();
        const cond = rec.query.get('condition') ?? 'not-running';
        if (!c.running && cond === 'not-running') {
          res.end(JSON.stringify({ StatusCode: c.exitCode, Error: null }) + '\n');
          return;
        }
        const list = this.waiters.get(c.id) ?? [];
        list.push((code) => res.end(JSON.stringify({ StatusCode: code, Error: null }) + '\n'));
        this.waiters.set(c.id, list);
        return;
      }
      case 'stop':
        if (!c.running) {
          send(res, 304);
          return;
        }
        this.finish(c, 143);
        send(res, 204);
        return;
      case 'kill':
        if (!c.running) {
          send(res, 409, { message: `Cannot kill container: ${m[1]}: Container ${c.id} is not running` });
          return;
        }
        this.finish(c, 137);
        send(res, 204);
        return;
      case 'resize':
      case 'pause':
      case 'unpause':
      case 'restart':
      case 'rename':
        send(res, verb === 'resize' ? 200 : 204);
        return;
      case '':
        if (rec.method === 'DELETE') {
          if (c.running && rec.query.get('force') !== '1') {
            send(res, 409, { message: `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove` });
            return;
          }
          this.containers.delete(c.id);
          send(res, 204);
          return;
        }
        break;
      case 'logs':
        res.statusCode = 200;
        for (const l of this.logs) res.write(c.tty ? Buffer.from(l.text) : frame(l.stream, l.text));
        res.end();
        return;
      case 'exec': {
        if (!c.running) {
          send(res, 409, { message: `Container ${c.id} is not running` });
          return;
        }
        const body = JSON.parse(rec.body) as { Cmd: string[]; Tty: boolean; AttachStdin: boolean };
        const id = `e${++this.seq}`.padEnd(64, '0');
        this.execs.set(id, { container: c.id, cmd: body.Cmd, tty: body.Tty, exitCode: null, stdin: body.AttachStdin });
        send(res, 201, { Id: id });
        return;
      }
      case 'top':
        send(res, 200, { Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: [['root', '11584', '11564', '0', '04:10', '?', '00:00:00', 'sh -c sleep 1000']] });
        return;
    }
    send(res, 404, { message: 'page not found' });
  }

  private onUpgrade(req: http.IncomingMessage, sock: Socket, head: Buffer): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const path = u.pathname.replace(/^\/v[0-9.]+/, '');
    let m: RegExpExecArray | null;
    const ok = 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n';
    if ((m = /^\/containers\/([^/]+)\/attach$/.exec(path))) {
      this.record(req, '', true);
      const c = this.find(m[1]!);
      if (!c) {
        sock.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n' + JSON.stringify({ message: `No such container: ${m[1]}` }).padEnd(42));
        return;
      }
      sock.write(ok);
      const stdin = u.searchParams.get('stdin') === '1';
      const list = this.attachments.get(c.id) ?? [];
      const att: { sock: Socket; stdin: boolean; stdinClosed?: boolean } = { sock, stdin };
      list.push(att);
      this.attachments.set(c.id, list);
      const onData = (d: Buffer): void => {
        if (c.program.detachOn && d.toString().includes(c.program.detachOn)) {
          sock.end();
          return;
        }
        if (c.program.cat) sock.write(c.tty ? d : frame(1, d));
      };
      if (head.length) onData(head);
      sock.on('data', onData);
      sock.on('end', () => {
        // client half-closed stdin: `cat` exits once it has run
        att.stdinClosed = true;
        if (c.program.cat && stdin && c.running) this.finish(c, c.program.exitCode ?? 0);
      });
      sock.on('error', () => undefined);
      return;
    }
    if ((m = /^\/exec\/([^/]+)\/start$/.exec(path))) {
      const e = this.execs.get(m[1]!);
      const len = Number(req.headers['content-length'] ?? 0);
      let buf = head;
      const go = (): void => {
        const body = buf.subarray(0, len).toString();
        const rest = buf.subarray(len);
        this.record(req, body, true);
        if (!e) {
          sock.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n' + JSON.stringify({ message: `No such exec instance: ${m![1]}` }));
          return;
        }
        sock.write(ok);
        const cmd = e.cmd.join(' ');
        const out = (s: string, stream = 1): void => {
          sock.write(e.tty ? Buffer.from(s) : frame(stream, s));
        };
        const exit = (code: number): void => {
          e.exitCode = code;
          setTimeout(() => sock.end(), 10);
        };
        if (e.cmd[0] === 'cat') {
          if (rest.length) out(rest.toString());
          sock.on('data', (d: Buffer) => out(d.toString()));
          sock.on('end', () => exit(0));
          return;
        }
        const ex = /^sh -c exit (\d+)$/.exec(cmd);
        if (ex) return exit(Number(ex[1]));
        if (e.cmd[0] === 'echo') {
          out(e.cmd.slice(1).join(' ') + '\n');
          out('to-stderr\n', 2);
          return exit(0);
        }
        out(`${e.cmd[0]}: not found\n`, 2);
        exit(127);
      };
      if (buf.length >= len) go();
      else {
        const onData = (d: Buffer): void => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= len) {
            sock.removeListener('data', onData);
            go();
          }
        };
        sock.on('data', onData);
      }
      sock.on('error', () => undefined);
      return;
    }
    sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  }
}

/** Canned list/inspect data used by the table tests and the side-by-side comparison. */
export function sampleState(d: FakeDaemon, now = Math.floor(Date.now() / 1000)): void {
  d.listContainers = [
    {
      Id: 'a1b2c3d4e5f6' + '0'.repeat(52), Names: ['/web'], Image: 'nginx:latest', ImageID: 'sha256:' + '1'.repeat(64),
      Command: "sh -c 'i=0; while :; do echo line $i; i=$((i+1)); sleep 1; done'", Created: now - 95, State: 'running', Status: 'Up About a minute',
      Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 18080, Type: 'tcp' }, { IP: '::', PrivatePort: 80, PublicPort: 18080, Type: 'tcp' }, { PrivatePort: 443, Type: 'tcp' }, { PrivatePort: 444, Type: 'tcp' }],
      Labels: { 'com.example.team': 'web', tier: 'front' }, SizeRw: 12, SizeRootFs: 1984172,
      HostConfig: { NetworkMode: 'default' }, NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
      Mounts: [{ Type: 'volume', Name: 'averyveryverylongvolumename', Source: '/var/lib/x', Destination: '/data', Driver: 'local', Mode: '', RW: true, Propagation: '' }],
    },
    {
      Id: 'f00dfeedbeef' + '1'.repeat(52), Names: ['/db', '/web/db'], Image: 'sha256:' + '2'.repeat(64), ImageID: 'sha256:' + '2'.repeat(64),
      Command: 'true', Created: now - 3 * 3600, State: 'exited', Status: 'Exited (0) 2 hours ago', Ports: [], Labels: {},
      HostConfig: { NetworkMode: 'default' }, NetworkSettings: { Networks: {} }, Mounts: [],
    },
  ];
  d.images = [
    { Containers: -1, Created: now - 86400 * 20, Id: 'sha256:' + '3'.repeat(64), Labels: null, ParentId: '', RepoDigests: ['busybox@sha256:' + '4'.repeat(64)], RepoTags: ['busybox:latest', 'busybox:1.36'], SharedSize: -1, Size: 4261550, VirtualSize: 4261550 },
    { Containers: -1, Created: now - 7200, Id: 'sha256:' + '5'.repeat(64), Labels: {}, ParentId: '', RepoDigests: [], RepoTags: ['127.0.0.1:5000/ns/app:v1'], SharedSize: -1, Size: 1234567890, VirtualSize: 1234567890 },
    { Containers: -1, Created: now - 60, Id: 'sha256:' + '6'.repeat(64), Labels: {}, ParentId: '', RepoDigests: null, RepoTags: null, SharedSize: -1, Size: 0, VirtualSize: 0 },
  ];
}

if (process.env.BERTH_FAKE_DAEMON_SOCK) {
  const sock = process.env.BERTH_FAKE_DAEMON_SOCK;
  const d = new FakeDaemon(sock);
  sampleState(d);
  d.programs.busybox = { stdout: 'hello\n', stderr: 'warn\n', exitCode: 3 };
  d.programs.catimg = { cat: true };
  d.addContainer({ name: 'runner', running: true, program: { keepRunning: true }, labels: { a: 'b' } });
  d.logs = [{ stream: 1, text: 'out line\n' }, { stream: 2, text: 'err line\n' }];
  d.events = [{ status: 'start', id: 'abc', from: 'busybox', Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'x', image: 'busybox' } }, scope: 'local', time: 1795320758, timeNano: 1795320758290382092 }];
  void d.start().then(() => process.stdout.write(`fake daemon on ${sock}\n`));
}
