// The small interfaces the routes need (as moby's router backends). The daemon
// implements them; routes never import services directly.
import type { Duplex, Writable } from 'node:stream';
import type { Filters } from '../common/filters';

export type Hijack = () => { socket: Duplex; head: Buffer };

export interface SystemBackend {
  info(): Promise<unknown> | unknown;
  version(): unknown;
  /** events as JSON text (timeNano needs more precision than a JS number) */
  events(o: { since?: number; until?: number; filters: Filters }, onEvent: (json: string) => void): { history: string[]; unsubscribe: () => void };
  df(): Promise<unknown> | unknown;
}

export interface ContainerBackend {
  /** platform: the ?platform= of the request ("os/arch[/variant]"), which the image must match */
  create(body: Record<string, unknown>, name: string | undefined, platform?: string): Promise<{ Id: string; Warnings: string[] }>;
  start(ref: string): Promise<void>;
  stop(ref: string, t?: number, signal?: string): Promise<void>;
  restart(ref: string, t?: number, signal?: string): Promise<void>;
  kill(ref: string, signal?: string): Promise<void>;
  remove(ref: string, force: boolean, volumes: boolean): Promise<void>;
  rename(ref: string, name: string): void;
  update(ref: string, body: Record<string, unknown>): Promise<{ Warnings: string[] }>;
  pause(ref: string): Promise<void>;
  unpause(ref: string): Promise<void>;
  wait(ref: string, condition: string): Promise<{ StatusCode: number; Error: { Message: string } | null }>;
  attach(ref: string, hijack: Hijack, o: { stdin: boolean; stdout: boolean; stderr: boolean; stream: boolean; logs: boolean; detachKeys?: string | null }): void;
  /** coalesce: several lines per stdcopy frame, for clients that only concatenate frames (see the logs route). */
  logs(ref: string, out: Writable, o: { stdout: boolean; stderr: boolean; follow: boolean; tail: string; timestamps: boolean; since?: number; until?: number; coalesce?: boolean }): { stop: () => void };
  /** true for a TTY container's raw log stream; throws when its log driver cannot be read */
  isTty(ref: string): boolean;
  resize(ref: string, h: number, w: number): void;
  top(ref: string, psArgs: string): Promise<unknown>;
  stats(ref: string, o: { stream: boolean; oneShot: boolean }, write: (obj: unknown) => void, end: () => void): () => void;
  list(o: { all: boolean; limit: number; size: boolean; filters: Filters }): unknown[];
  inspect(ref: string, size: boolean): unknown;
  prune(filters: Filters): Promise<unknown>;
  execCreate(ref: string, body: Record<string, unknown>): { Id: string };
  execStart(id: string, opts: { detach: boolean; tty?: boolean }, hijack?: Hijack): Promise<void>;
  execInspect(id: string): unknown;
  execResize(id: string, h: number, w: number): void;
}

export interface ImageBackend {
  importTar(body: NodeJS.ReadableStream, o: { repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string }): Promise<string>;
  list(o: { all: boolean; filters: Filters; digests: boolean }): unknown[];
  inspect(ref: string): unknown;
  history(ref: string): unknown[];
  tag(ref: string, repo: string, tag?: string): void;
  remove(ref: string, force: boolean, noprune: boolean): Array<{ Untagged?: string; Deleted?: string }>;
  prune?(filters: Filters): Promise<unknown>;
}

export interface NetworkBackend {
  create(body: Record<string, unknown>): Promise<{ Id: string; Warning: string }>;
  list(filters: Filters): unknown[];
  inspectNetwork(ref: string): unknown;
  remove(ref: string): Promise<void>;
  prune(filters: Filters): Promise<unknown>;
  connect(ref: string, body: Record<string, unknown>): Promise<void>;
  disconnect(ref: string, body: Record<string, unknown>): Promise<void>;
}

/** Registries (pull, push, login) and archives (save, load); `write` sends one JSON progress message. */
export interface DistributionBackend {
  pull(o: { fromImage: string; tag?: string; platform?: string; authHeader: string }, write: (m: unknown) => void, signal: AbortSignal): Promise<void>;
  push(o: { name: string; tag?: string; authHeader: string }, write: (m: unknown) => void, signal: AbortSignal): Promise<void>;
  login(body: unknown): Promise<{ IdentityToken: string; Status: string }>;
  /** Resolves the names (throwing before any output) and returns the archive stream. */
  save(names: string[]): Promise<NodeJS.ReadableStream>;
  load(body: NodeJS.ReadableStream, o: { quiet: boolean }, write: (m: unknown) => void): Promise<void>;
}

export interface VolumeBackend {
  create(o: { name: string; driver: string; options: Record<string, string> | null; labels: Record<string, string> | null }): unknown;
  list(filters: Filters): unknown[];
  inspect(name: string): unknown;
  remove(name: string, force: boolean): void;
  prune(filters: Filters, apiVersion: string): Promise<unknown>;
}

/** docker cp's archive endpoints, diff, export and commit. */
export interface FilesystemBackend {
  statPath(ref: string, path: string): Promise<unknown>;
  /** begin(stat) is called once the path exists; it returns where the tar goes. Resolves when it has been written. */
  getArchive(ref: string, path: string, begin: (stat: unknown) => Writable): Promise<void>;
  putArchive(ref: string, path: string, body: NodeJS.ReadableStream, o: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void>;
  changes(ref: string): unknown[];
  export(ref: string, out: () => Writable): Promise<void>;
  commit(ref: string, o: { repo?: string; tag?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean; config?: unknown }): Promise<{ Id: string }>;
}

export interface BuildRequest {
  dockerfile: string;
  tags: string[];
  target?: string;
  buildArgs: Map<string, string | null>;
  labels: Record<string, string>;
  noCache: boolean;
  pull: boolean;
  rm: boolean;
  forceRm: boolean;
  quiet: boolean;
  networkMode: string;
  platform?: string;
  cacheFrom: string[];
  extraHosts: string[];
  hostConfig: Record<string, unknown>;
  registryAuth?: Record<string, unknown>;
  remote?: string;
}

/** POST /build's output: `stream` text, `aux` results, pull `progress` messages passed through. */
export interface BuildWriter {
  stream(text: string): void;
  aux(v: unknown): void;
  progress(m: unknown): void;
}

export interface BuildBackend {
  build(body: NodeJS.ReadableStream, o: BuildRequest, out: BuildWriter, signal: AbortSignal): Promise<{ id: string }>;
  prune(o: { all: boolean; filters: Filters; keepStorage?: number }): Promise<unknown>;
}

export interface Backends {
  system: SystemBackend;
  containers: ContainerBackend;
  images: ImageBackend;
  distribution: DistributionBackend;
  networks: NetworkBackend;
  volumes: VolumeBackend;
  filesystem: FilesystemBackend;
  build?: BuildBackend;
}
