// The small interfaces the routes need (as moby's router backends). The daemon
// implements them; routes never import services directly.
import type { Duplex, Writable } from 'node:stream';
import type { Filters } from '../common/filters';

export type Hijack = () => { socket: Duplex; head: Buffer };

export interface SystemBackend {
  info(): Promise<unknown> | unknown;
  version(): unknown;
  events(o: { since?: number; until?: number; filters: Filters }, onEvent: (e: unknown) => void): { history: unknown[]; unsubscribe: () => void };
  df(): Promise<unknown> | unknown;
}

export interface ContainerBackend {
  create(body: Record<string, unknown>, name: string | undefined): Promise<{ Id: string; Warnings: string[] }>;
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
  logs(ref: string, out: Writable, o: { stdout: boolean; stderr: boolean; follow: boolean; tail: string; timestamps: boolean; since?: number; until?: number }): { stop: () => void };
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

export interface Backends {
  system: SystemBackend;
  containers: ContainerBackend;
  images: ImageBackend;
}
