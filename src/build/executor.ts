// Execution: runs a plan step by step the way Docker's legacy builder does.
// Every step commits an image whose parent is the previous step's image
// (metadata steps with an empty-layer history entry, RUN with the container's
// changes as a layer, COPY/ADD/WORKDIR with a layer made straight from the
// sources). Before a step runs, its cache key (parent image + instruction +
// the args and source checksums it sees) is looked up in the cache index; a
// hit reuses the image the step produced before.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { packTar, type ByteSource, type TarInput } from '../common/archive';
import { copyTreeAsLayer, writeEntriesAsLayer } from '../snapshots/tree-layer';
import { notFound } from '../common/errors';
import { shortId } from '../common/ids';
import { httpGet, type GetResult } from '../common/http-get';
import { log } from '../common/log';
import { parseNormalizedNamed, familiarString } from '../common/reference';
import {
  DOCKER_VERSION, formatTimeNs, hostArch, nowNs, type ContainerConfig, type HealthConfig, type ImageConfig, type ImageRecord, type ImageService,
} from '../images';
import type { BuildCacheIndex } from './cache';
import type { BuildContext } from './context';
import {
  contextItems, copyEntries, destDirectory, isArchive, isArchiveBytes, parseChmod, parseChown, sourcesChecksum, type CopyItem, type Identity, type ModeFn,
} from './copy';
import { parseDockerfile } from './dockerfile/parser';
import {
  parseInstruction, type CmdInstr, type Command, type CopyInstr, type Dockerfile, type EntrypointInstr, type Instruction, type RunInstr, type Stage,
} from './dockerfile/instructions';
import { envFromList, expandHeredoc, processWord, processWords, ShellLexError } from './dockerfile/shell-lex';
import { cacheKey, PROXY_ARGS, stageRef, type Plan } from './plan';
import { PatternMatcher, parseDockerignore } from './dockerignore';
import { streamHasher } from './hasher';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** What the builder needs from the container service (injected by the daemon). */
export interface BuildContainers {
  /** ephemeral: a RUN container, written without fsyncs. */
  create(body: Record<string, unknown>, name: string | undefined, opts?: { ephemeral?: boolean }): Promise<{ Id: string; Warnings: string[] }>;
  start(id: string): Promise<void>;
  wait(id: string, condition: string): Promise<{ StatusCode: number; Error: { Message: string } | null }>;
  logs(id: string, out: Writable, o: { stdout: boolean; stderr: boolean; follow: boolean; tail: string; timestamps: boolean }): { stop: () => void };
  remove(id: string, force: boolean, volumes: boolean): Promise<void>;
  paths(id: string): { upper: string };
}

export interface BuildOptions {
  dockerfile: string;
  tags: string[];
  target?: string;
  buildArgs: Map<string, string | null>;
  labels: Record<string, string>;
  noCache: boolean;
  pull: boolean;
  /** Remove intermediate containers (default true). */
  rm: boolean;
  forceRm: boolean;
  quiet: boolean;
  networkMode: string;
  platform?: string;
  cacheFrom: string[];
  extraHosts: string[];
  /** Resource settings passed to RUN containers' HostConfig. */
  hostConfig: Record<string, unknown>;
  /** X-Registry-Config: registry → auth config, for pulls of FROM images. */
  registryAuth?: Record<string, unknown>;
}

/** The build's output: legacy builder messages. */
export interface BuildOutput {
  stream(text: string): void;
  aux(v: unknown): void;
  /** A JSON progress message passed through as is (pull progress of a FROM image). */
  progress(m: unknown): void;
}

/** A failed step; `code` is the exit code the client should use. */
export class StepError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = 'StepError';
  }
}

export interface ExecutorDeps {
  images: ImageService;
  containers: BuildContainers;
  cache: BuildCacheIndex;
  /** Directory for temporary mounts and files of this build. */
  workDir: string;
  /** Pulls an image when a registry client is available; progress messages go to `progress`. */
  pull?: (ref: string, progress: (m: unknown) => void) => Promise<void>;
}

/** Where a stage's output goes (see Sequencer). */
interface StageOut {
  text(s: string): void;
  progress(m: unknown): void;
}

/**
 * Keeps the output in stage order while independent stages run at the same
 * time: the first unfinished stage writes through, later ones are buffered
 * until every stage before them has finished.
 */
class Sequencer {
  private head = 0;
  private readonly bufs: Array<Array<{ text: string } | { progress: unknown }>>;
  private readonly finished: boolean[];

  constructor(n: number, private readonly out: BuildOutput) {
    this.bufs = Array.from({ length: n }, () => []);
    this.finished = Array.from({ length: n }, () => false);
  }

  private emit(m: { text: string } | { progress: unknown }): void {
    if ('text' in m) this.out.stream(m.text);
    else this.out.progress(m.progress);
  }

  private write(i: number, m: { text: string } | { progress: unknown }): void {
    if (i === this.head) this.emit(m);
    else (this.bufs[i] as Array<{ text: string } | { progress: unknown }>).push(m);
  }

  stage(i: number): StageOut {
    return { text: (t) => this.write(i, { text: t }), progress: (p) => this.write(i, { progress: p }) };
  }

  finish(i: number): void {
    this.finished[i] = true;
    while (this.head < this.finished.length && this.finished[this.head]) {
      this.head++;
      this.flush(this.head);
    }
  }

  private flush(i: number): void {
    const b = this.bufs[i];
    if (!b) return;
    for (const m of b.splice(0)) this.emit(m);
  }

  /** After a failure in stage `last`: what the stages up to it printed. */
  flushUpTo(last: number): void {
    for (let i = this.head; i <= last && i < this.bufs.length; i++) this.flush(i);
  }
}

interface State {
  stage: Stage;
  out: StageOut;
  /** Step number of the current instruction. */
  step: number;
  image: ImageRecord | undefined;
  config: ImageConfig;
  run: ContainerConfig;
  /** Declared args of this stage with their values (undefined = declared without value). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
}

interface CommitSpec {
  run: ContainerConfig;
  createdBy: string;
  /** container_config.Cmd */
  ccCmd: string[];
  /**
   * The step's layer: written straight into the new layer directory (fill),
   * or as a tar stream that is extracted (kept for ADD of local archives, whose
   * entries need the extractor's rules).
   */
  layer?: { fill: (dir: string) => Promise<{ diffId: string; size: number }> } | { tar: () => ByteSource } | { made: { chainId: string; release: () => void } };
  containerId?: string;
  author?: string;
  key: string;
  extra?: unknown;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Go's %q of a []string: ["a" "b"]. */
function goList(l: readonly string[] | null | undefined): string {
  return `[${(l ?? []).map((s) => JSON.stringify(s)).join(' ')}]`;
}

function goDuration(ns: number | undefined): string {
  const n = ns ?? 0;
  if (n === 0) return '0s';
  const parts: string[] = [];
  let s = n / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h) parts.push(`${h}h`);
  if (h || m) parts.push(`${m}m`);
  parts.push(`${Number(s.toFixed(9))}s`);
  return parts.join('');
}

/** Go's %q of an int: a quoted rune literal ('\x03', 'a', '\u00ff'). */
function goRune(n: number): string {
  if (n < 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return `'\\ufffd'`;
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: "\\'", 92: '\\\\' };
  if (named[n] !== undefined) return `'${named[n]}'`;
  if (n >= 0x20 && n < 0x7f) return `'${String.fromCharCode(n)}'`;
  if (n < 0x80) return `'\\x${n.toString(16).padStart(2, '0')}'`;
  if (n < 0x10000) return /\p{L}|\p{N}|\p{P}|\p{S}/u.test(String.fromCodePoint(n)) ? `'${String.fromCodePoint(n)}'` : `'\\u${n.toString(16).padStart(4, '0')}'`;
  return `'\\U${n.toString(16).padStart(8, '0')}'`;
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ']);

function validSignal(s: string): boolean {
  if (/^\d+$/.test(s)) return Number(s) > 0 && Number(s) <= 64;
  const n = s.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(n) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(n);
}

function setEnv(list: string[] | null | undefined, key: string, value: string): string[] {
  const out = [...(list ?? [])];
  const i = out.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

/** Splits a multiplexed log stream (8-byte frame headers) into text. */
class Demux extends Writable {
  private buf: Buffer = Buffer.alloc(0);
  private readonly dec = new StringDecoder('utf8');
  constructor(private readonly onText: (s: string) => void) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const text = this.dec.write(this.buf.subarray(8, 8 + size));
      if (text) this.onText(text);
      this.buf = this.buf.subarray(8 + size);
    }
    cb();
  }
  override _final(cb: (e?: Error | null) => void): void {
    const rest = this.dec.end();
    if (rest) this.onText(rest);
    cb();
  }
}

/** Files a RUN container's runtime creates as mount points; they are not the command's changes. */
const MOUNTPOINT_FILES = new Set(['etc/hosts', 'etc/hostname', 'etc/resolv.conf']);

export class Executor {
  /** Each planned stage's result (its last image; undefined for a bare FROM scratch). */
  private readonly stageDone = new Map<number, Promise<ImageRecord | undefined>>();
  private readonly consumed = new Set<string>();
  /** Intermediate containers being removed in the background. */
  private readonly removals: Array<Promise<unknown>> = [];
  private cacheFrom: ImageRecord[] = [];
  private readonly escape: string;
  private readonly aborter = new AbortController();
  private readonly signal: AbortSignal;

  constructor(
    private readonly deps: ExecutorDeps,
    private readonly df: Dockerfile,
    private readonly plan: Plan,
    private readonly ctx: BuildContext,
    private readonly opts: BuildOptions,
    private readonly out: BuildOutput,
    external: AbortSignal | undefined,
  ) {
    this.escape = df.escape;
    for (const k of plan.metaDeclared) this.consumed.add(k);
    // Stages skipped because the target does not need them would have run in Docker's legacy builder (it runs every
    // stage up to the target): their ARGs count as consumed, so the unused-build-arg warning stays Docker's.
    const planned = new Set(plan.stages.map((s) => s.index));
    for (const s of df.stages) {
      if (s.index > plan.target.index || planned.has(s.index)) continue;
      for (const ins of s.instructions) if (ins.kind === 'arg') for (const a of ins.args) this.consumed.add(a.key);
    }
    this.signal = this.aborter.signal;
    if (external?.aborted) this.aborter.abort();
    else external?.addEventListener('abort', () => this.aborter.abort(), { once: true });
  }

  private say(st: State, text: string): void {
    st.out.text(text);
  }

  private checkAbort(): void {
    if (this.signal.aborted) throw new StepError('context canceled');
  }

  /**
   * Runs the plan; returns the final image. Stages start together and wait
   * for the stages they use (FROM <stage>, COPY --from), so independent
   * stages run concurrently; their output is kept in stage order.
   */
  async run(): Promise<ImageRecord> {
    for (const ref of this.opts.cacheFrom) {
      const img = this.deps.images.tryGet(ref);
      if (img) this.cacheFrom.push(img);
    }
    const stages = this.plan.stages;
    const seq = new Sequencer(stages.length, this.out);
    let failure: { error: unknown; pos: number } | undefined;
    let firstStep = 1;
    for (const a of this.df.metaArgs) this.out.stream(`Step ${firstStep++}/${this.plan.totalSteps} : ${a.node.original}\n`);
    const all: Array<Promise<unknown>> = [];
    for (const [pos, stage] of stages.entries()) {
      const extra = stage === this.plan.target && Object.keys(this.opts.labels).length ? 1 : 0;
      const p = this.runStage(stage, seq.stage(pos), firstStep).then((st) => st.image);
      firstStep += 1 + stage.instructions.length + extra;
      this.stageDone.set(stage.index, p);
      all.push(p.then(
        () => seq.finish(pos),
        (e: unknown) => {
          if (!failure) {
            failure = { error: e, pos };
            this.aborter.abort(); // the other stages stop at their next step (a running RUN is killed)
          }
        },
      ));
    }
    await Promise.all(all);
    await Promise.all(this.removals);
    if (failure) {
      seq.flushUpTo(failure.pos);
      throw failure.error;
    }
    const last = await this.stageDone.get(this.plan.target.index);
    if (!last) throw new StepError('No image was generated. Is your Dockerfile empty?');
    const unused = [...this.opts.buildArgs.keys()].filter((k) => !this.consumed.has(k) && !PROXY_ARGS.has(k)).sort();
    if (unused.length) this.out.stream(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    return last;
  }

  // ---------- stages ----------

  private header(st: { out: StageOut; step: number }, text: string): void {
    st.out.text(`Step ${st.step}/${this.plan.totalSteps} : ${text}\n`);
  }

  private done(st: State): void {
    this.say(st, ` ---> ${st.image ? shortId(st.image.id) : ''}\n`);
  }

  private async runStage(stage: Stage, out: StageOut, firstStep: number): Promise<State> {
    this.checkAbort();
    this.header({ out, step: firstStep }, stage.from.node.original);
    const st = await this.from(stage, out, firstStep);
    await this.onbuildTriggers(st);
    this.done(st);
    const instructions = [...stage.instructions];
    if (stage === this.plan.target && Object.keys(this.opts.labels).length) instructions.push(this.labelInstruction());
    for (const ins of instructions) {
      this.checkAbort();
      const t0 = process.hrtime.bigint();
      st.step++;
      this.header(st, ins.node.original);
      await this.dispatch(st, ins);
      this.done(st);
      log.debug('build step', { step: st.step, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    }
    return st;
  }

  /** The result of a stage this one uses, once it is there. */
  private async stageResult(ref: Stage, what: string): Promise<ImageRecord | undefined> {
    const p = this.stageDone.get(ref.index);
    if (!p) throw new StepError(`${what}: stage ${ref.name ?? ref.index} is not part of this build`);
    return p;
  }

  /** `--label` as Docker adds it: a LABEL step at the end, values single-quoted so they are not expanded. */
  private labelInstruction(): Instruction {
    const keys = Object.keys(this.opts.labels).sort();
    const quote = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;
    const original = `LABEL ${keys.map((k) => `${JSON.stringify(k)}=${quote(this.opts.labels[k] ?? '')}`).join(' ')}`;
    const node = { keyword: 'LABEL', cmd: 'label', original, flags: [], args: '', heredocs: [], startLine: 0, endLine: 0 };
    return { kind: 'label', node, pairs: keys.map((k) => ({ key: JSON.stringify(k), value: quote(this.opts.labels[k] ?? '') })) };
  }

  private scratchConfig(): ImageConfig {
    return { architecture: hostArch(), os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
  }

  private async getImage(name: string, out: StageOut): Promise<ImageRecord> {
    let shown = name;
    try {
      shown = familiarString(parseNormalizedNamed(name));
      if (!/[:@]/.test(shown.slice(shown.lastIndexOf('/') + 1))) shown += ':latest';
    } catch {
      /* keep as written */
    }
    let img = this.deps.images.tryGet(name);
    if ((!img || this.opts.pull) && this.deps.pull) {
      try {
        await this.deps.pull(name, (m) => out.progress(m));
        img = this.deps.images.tryGet(name);
      } catch (e) {
        // With --pull and a local copy, a registry that cannot be reached is not an error.
        if (!img) {
          const msg = (e as Error).message;
          const repo = shown.replace(/[:@].*$/, '');
          throw new StepError(msg.includes(repo) ? msg : `failed to pull ${shown}: ${msg}`);
        }
      }
    }
    if (!img) throw notFound(`No such image: ${shown}${this.deps.pull ? '' : ' (berth has no registry client: pull or load the image first)'}`);
    return img;
  }

  private async from(stage: Stage, out: StageOut, step: number): Promise<State> {
    const f = stage.from;
    let base: string;
    try {
      base = processWord(f.image, this.plan.meta, this.escape);
    } catch (e) {
      throw this.lexError(e, f.node.original);
    }
    if (!base) throw new StepError(`base name (${f.image}) should not be blank`);
    let image: ImageRecord | undefined;
    const ref = stageRef(this.df, base, stage.index);
    if (base.toLowerCase() === 'scratch') image = undefined;
    else if (ref && !/^\d+$/.test(base)) image = await this.stageResult(ref, `FROM ${base}`);
    else image = await this.getImage(base, out);
    const config = image ? clone(image.config) : this.scratchConfig();
    const run: ContainerConfig = config.config ? clone(config.config) : {};
    if (!(run.Env ?? []).some((e) => e.startsWith('PATH='))) run.Env = [...(run.Env ?? []), DEFAULT_PATH];
    config.config = run;
    return { stage, out, step, image, config, run, args: new Map(), cmdSet: false };
  }

  private async onbuildTriggers(st: State): Promise<void> {
    const triggers = st.run.OnBuild ?? [];
    if (!triggers.length) return;
    st.run.OnBuild = null; // as Docker: the child image has none of its own
    this.say(st, `# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}\n`);
    for (const t of triggers) {
      const node = parseDockerfile(t, 'ONBUILD').nodes[0];
      if (!node) continue;
      const ins = parseInstruction(node, 'ONBUILD', this.escape);
      if (ins.kind === 'onbuild' || ins.kind === 'from') throw new StepError(`${ins.kind.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      await this.dispatch(st, ins);
    }
  }

  // ---------- environment ----------

  /** Values of the args this stage declared (build-arg, else default, else global value). */
  private argValues(st: State): Map<string, string> {
    const m = new Map<string, string>();
    // The predefined proxy args are usable without an ARG when given with --build-arg (as Docker's builder).
    for (const [k, v] of this.opts.buildArgs) if (v !== null && PROXY_ARGS.has(k)) m.set(k, v);
    for (const [k, v] of st.args) if (v !== undefined) m.set(k, v);
    return m;
  }

  /** The environment variables are expanded with: ENV wins over ARG. */
  private env(st: State): Map<string, string> {
    const m = this.argValues(st);
    for (const [k, v] of envFromList(st.run.Env)) m.set(k, v);
    return m;
  }

  private expand(st: State, word: string, what: string): string {
    try {
      return processWord(word, this.env(st), this.escape);
    } catch (e) {
      throw this.lexError(e, what);
    }
  }

  private lexError(e: unknown, what: string): Error {
    if (e instanceof ShellLexError) return new StepError(`failed to process "${what}": ${e.message}`);
    return e as Error;
  }

  /** Build args a RUN sees as environment: declared args with values not set by ENV, plus proxy args given on the command line. */
  private runArgs(st: State): { env: string[]; shown: string[] } {
    const envKeys = new Set(envFromList(st.run.Env).keys());
    const env: string[] = [];
    const shown: string[] = [];
    const keys = new Set<string>([...st.args.keys(), ...[...this.opts.buildArgs.keys()].filter((k) => PROXY_ARGS.has(k))]);
    for (const k of keys) {
      if (envKeys.has(k)) continue;
      let v: string | undefined;
      if (st.args.has(k)) v = st.args.get(k);
      else {
        const given = this.opts.buildArgs.get(k);
        v = given === null ? undefined : given;
      }
      if (v === undefined) continue;
      env.push(`${k}=${v}`);
      if (!PROXY_ARGS.has(k) || st.args.has(k)) shown.push(`${k}=${v}`);
    }
    env.sort();
    shown.sort();
    return { env, shown };
  }

  private shell(run: ContainerConfig): string[] {
    return run.Shell && run.Shell.length ? run.Shell : DEFAULT_SHELL;
  }

  // ---------- dispatch ----------

  private async dispatch(st: State, ins: Instruction): Promise<void> {
    switch (ins.kind) {
      case 'from':
        throw new StepError('FROM is not allowed here');
      case 'run':
        return this.runStep(st, ins);
      case 'copy':
      case 'add':
        return this.copyStep(st, ins);
      case 'workdir':
        return this.workdirStep(st, this.expand(st, ins.path, ins.node.original));
      case 'arg': {
        const parts: string[] = [];
        for (const a of ins.args) {
          const key = a.key;
          this.consumed.add(key);
          const dflt = a.value !== undefined ? this.expand(st, a.value, ins.node.original) : undefined;
          const given = this.opts.buildArgs.get(key);
          let value: string | undefined;
          if (given !== undefined && given !== null) value = given;
          else if (dflt !== undefined) value = dflt;
          else value = this.plan.meta.get(key);
          st.args.set(key, value);
          parts.push(dflt !== undefined ? `${key}=${dflt}` : key);
        }
        // As Docker: the step's identity is the declaration; the values reach the cache keys of the steps that use them.
        return this.metadata(st, `ARG ${parts.join(' ')}`, () => undefined);
      }
      default:
        return this.metadataStep(st, ins);
    }
  }

  private command(run: ContainerConfig, c: Command): string[] {
    return c.json ? c.args : [...this.shell(run), c.line];
  }

  private async metadataStep(st: State, ins: Instruction): Promise<void> {
    const env = this.env(st);
    const x = (w: string): string => {
      try {
        return processWord(w, env, this.escape);
      } catch (e) {
        throw this.lexError(e, ins.node.original);
      }
    };
    switch (ins.kind) {
      case 'env': {
        const pairs = ins.pairs.map((p) => [x(p.key), x(p.value)] as const);
        for (const [k] of pairs) if (!k) throw new StepError('ENV names can not be blank');
        return this.metadata(st, `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, (r) => {
          for (const [k, v] of pairs) r.Env = setEnv(r.Env, k, v);
        });
      }
      case 'label': {
        const pairs = ins.pairs.map((p) => [x(p.key), x(p.value)] as const);
        for (const [k] of pairs) if (!k) throw new StepError('LABEL names can not be blank');
        return this.metadata(st, `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`, (r) => {
          r.Labels = { ...(r.Labels ?? {}) };
          for (const [k, v] of pairs) r.Labels[k] = v;
        });
      }
      case 'maintainer':
        return this.metadata(st, `MAINTAINER ${ins.name}`, () => undefined, undefined, ins.name);
      case 'expose': {
        let words: string[];
        try {
          words = ins.ports.flatMap((p) => processWords(p, env, this.escape));
        } catch (e) {
          throw this.lexError(e, ins.node.original);
        }
        const ports: string[] = [];
        for (const spec of words) {
          const [range = '', proto = 'tcp', ...rest] = spec.split('/');
          const pr = proto.toLowerCase();
          if (rest.length || !['tcp', 'udp', 'sctp'].includes(pr)) throw new StepError(`invalid proto: ${proto}`);
          const m = /^(\d+)(?:-(\d+))?$/.exec(range);
          if (!m) throw new StepError(`invalid containerPort: ${range}`);
          const lo = Number(m[1]);
          const hi = m[2] !== undefined ? Number(m[2]) : lo;
          if (lo < 1 || hi > 65535 || hi < lo) throw new StepError(`invalid containerPort: ${range}`);
          for (let p = lo; p <= hi; p++) ports.push(`${p}/${pr}`);
        }
        return this.metadata(st, `EXPOSE ${words.join(' ')}`, (r) => {
          r.ExposedPorts = { ...(r.ExposedPorts ?? {}) };
          for (const p of ports) r.ExposedPorts[p] = {};
        });
      }
      case 'volume': {
        const paths = ins.paths.map((p) => x(p).trim());
        for (const p of paths) if (!p) throw new StepError('VOLUME specified can not be an empty string');
        return this.metadata(st, `VOLUME [${paths.join(' ')}]`, (r) => {
          r.Volumes = { ...(r.Volumes ?? {}) };
          for (const p of paths) r.Volumes[p] = {};
        });
      }
      case 'user': {
        const u = x(ins.user);
        return this.metadata(st, `USER ${u}`, (r) => {
          r.User = u;
        });
      }
      case 'stopsignal': {
        const s = x(ins.signal);
        if (!validSignal(s)) throw new StepError(`Invalid signal: ${s}`);
        return this.metadata(st, `STOPSIGNAL ${s}`, (r) => {
          r.StopSignal = s;
        });
      }
      case 'onbuild':
        return this.metadata(st, `ONBUILD ${ins.expression}`, (r) => {
          r.OnBuild = [...(r.OnBuild ?? []), ins.expression];
        });
      case 'shell':
        return this.metadata(st, `SHELL [${ins.shell.join(' ')}]`, (r) => {
          r.Shell = [...ins.shell];
        });
      case 'cmd':
        return this.cmdStep(st, ins);
      case 'entrypoint':
        return this.entrypointStep(st, ins);
      case 'healthcheck': {
        const h = ins.health;
        const old = st.run.Healthcheck?.Test;
        if (old && old.length && old[0] !== 'NONE') this.say(st, `Note: overriding previous HEALTHCHECK: [${old.join(' ')}]\n`);
        const hc: HealthConfig = h.test[0] === 'NONE' ? { Test: ['NONE'] } : {
          Test: h.test,
          ...(h.interval ? { Interval: h.interval } : {}),
          ...(h.timeout ? { Timeout: h.timeout } : {}),
          ...(h.startPeriod ? { StartPeriod: h.startPeriod } : {}),
          ...(h.startInterval ? { StartInterval: h.startInterval } : {}),
          ...(h.retries ? { Retries: h.retries } : {}),
        };
        // Go's %q of the HealthConfig struct, as Docker's history shows it (Retries is an int: a quoted rune).
        const text = `HEALTHCHECK &{${goList(hc.Test)} "${goDuration(hc.Interval)}" "${goDuration(hc.Timeout)}" "${goDuration(hc.StartPeriod)}" "${goDuration(hc.StartInterval)}" ${goRune(h.retries)}}`;
        return this.metadata(st, text, (r) => {
          r.Healthcheck = hc;
        });
      }
      default:
        throw new StepError(`unexpected instruction ${ins.kind}`);
    }
  }

  private cmdStep(st: State, ins: CmdInstr): Promise<void> {
    const cmd = this.command(st.run, ins.command);
    st.cmdSet = true;
    return this.metadata(st, `CMD ${goList(cmd)}`, (r) => {
      r.Cmd = cmd;
    });
  }

  private entrypointStep(st: State, ins: EntrypointInstr): Promise<void> {
    const ep = this.command(st.run, ins.command);
    const cmdSet = st.cmdSet;
    return this.metadata(st, `ENTRYPOINT ${goList(ep)}`, (r) => {
      r.Entrypoint = ep;
      if (!cmdSet) r.Cmd = null;
    }, { cmdSet });
  }

  // ---------- commits and the cache ----------

  private applyHit(st: State, img: ImageRecord): void {
    st.image = img;
    st.config = clone(img.config);
    st.run = st.config.config ? st.config.config : (st.config.config = {});
  }

  /** Looks a step up: the cache index first, then the --cache-from images' histories. */
  private async probe(st: State, key: string, createdBy: string, run: ContainerConfig): Promise<boolean> {
    if (this.opts.noCache) return false;
    const rec = this.deps.cache.get(key);
    if (rec) {
      // The key covers the parent image; an image found through --cache-from may have another recorded parent.
      const img = this.deps.images.tryGet(rec.id);
      if (img) {
        this.deps.cache.touch(key);
        this.applyHit(st, img);
        this.say(st, ' ---> Using cache\n');
        return true;
      }
      this.deps.cache.delete(key);
    }
    const restored = await this.fromCacheSources(st, createdBy, run);
    if (restored) {
      const grew = restored.chainIds.length > (st.image?.chainIds.length ?? 0);
      const size = grew ? this.layerSize(restored.chainIds[restored.chainIds.length - 1] as string) : 0;
      this.deps.cache.put({ key, id: restored.id, parent: st.image?.id ?? '', description: createdBy, size, created: Date.now(), lastUsed: Date.now(), usage: 1 });
      this.applyHit(st, restored);
      this.say(st, ' ---> Using cache\n');
      return true;
    }
    return false;
  }

  /** Docker's --cache-from matching: an image whose history continues the current one with this step. */
  private async fromCacheSources(st: State, createdBy: string, run: ContainerConfig): Promise<ImageRecord | undefined> {
    if (!this.cacheFrom.length) return undefined;
    const hist = st.config.history ?? [];
    const diffs = st.image?.diffIds ?? [];
    for (const src of this.cacheFrom) {
      const h = src.config.history ?? [];
      if (h.length <= hist.length) continue;
      let ok = hist.every((e, i) => h[i]?.created_by === e.created_by && !!h[i]?.empty_layer === !!e.empty_layer);
      ok &&= diffs.every((d, i) => src.diffIds[i] === d);
      const next = h[hist.length];
      if (!ok || !next || next.created_by !== createdBy) continue;
      const layers = diffs.length + (next.empty_layer ? 0 : 1);
      if (layers > src.diffIds.length) continue;
      if (h.length === hist.length + 1 && layers === src.diffIds.length) return src;
      const config: ImageConfig = {
        architecture: src.config.architecture, os: src.config.os,
        ...(src.config.author ? { author: src.config.author } : {}),
        config: run, created: next.created ?? formatTimeNs(nowNs()), docker_version: DOCKER_VERSION,
        history: [...hist, next], rootfs: { type: 'layers', diff_ids: [] },
      };
      return this.deps.images.createImage({
        config, base: layers ? (src.chainIds[layers - 1] ?? null) : null, layers: [], durable: false,
        ...(st.image ? { parent: st.image.id } : {}),
      });
    }
    return undefined;
  }

  private async commit(st: State, c: CommitSpec): Promise<void> {
    const created = formatTimeNs(nowNs());
    const parentId = st.image?.id ?? '';
    const prev = st.config;
    const author = c.author ?? prev.author;
    const config: ImageConfig = {
      architecture: prev.architecture || hostArch(),
      os: prev.os || 'linux',
      ...(prev.variant ? { variant: prev.variant } : {}),
      ...(author ? { author } : {}),
      config: { ...c.run, Image: parentId },
      container: c.containerId ?? '',
      container_config: { ...c.run, Cmd: c.ccCmd, Image: parentId, Hostname: c.containerId ? c.containerId.slice(0, 12) : '' },
      created,
      docker_version: DOCKER_VERSION,
      history: [...(prev.history ?? []), { created, created_by: c.createdBy, ...(c.layer ? {} : { empty_layer: true }) }],
      rootfs: { type: 'layers', diff_ids: [] },
    };
    const base = st.image ? (st.image.chainIds[st.image.chainIds.length - 1] ?? null) : null;
    let img: ImageRecord;
    let layer = c.layer;
    // No tar made and parsed again: the layer directory is written as its tar is hashed (snapshots/tree-layer.ts).
    if (layer && 'fill' in layer) layer = { made: await this.deps.images.snapshots.importTree(base, layer.fill) };
    if (layer && 'made' in layer) {
      try {
        img = await this.deps.images.createImage({ config, base: layer.made.chainId, layers: [], durable: false, ...(parentId ? { parent: parentId } : {}) });
      } finally {
        layer.made.release();
      }
    } else {
      img = await this.deps.images.createImage({
        config, base, layers: layer ? [{ tar: layer.tar(), storeBlob: false }] : [], durable: false, ...(parentId ? { parent: parentId } : {}),
      });
    }
    const size = c.layer && img.chainIds.length ? this.layerSize(img.chainIds[img.chainIds.length - 1] as string) : 0;
    this.deps.cache.put({ key: c.key, id: img.id, parent: parentId, description: c.createdBy, size, created: Date.now(), lastUsed: Date.now(), usage: 0 });
    this.applyHit(st, img);
  }

  private layerSize(chainId: string): number {
    try {
      return this.deps.images.snapshots.layerInfo(chainId).size;
    } catch {
      return 0;
    }
  }

  /** A step that only changes the config: one empty-layer history entry. */
  private async metadata(st: State, comment: string, mutate: (r: ContainerConfig) => void, extra?: unknown, author?: string): Promise<void> {
    const run = clone(st.run);
    mutate(run);
    const ccCmd = [...this.shell(run), '#(nop) ', comment];
    const createdBy = ccCmd.join(' ');
    const key = cacheKey(st.image?.id ?? '', createdBy, { run, extra: extra ?? null, author: author ?? null });
    if (await this.probe(st, key, createdBy, run)) return;
    await this.commit(st, { run, createdBy, ccCmd, key, ...(author !== undefined ? { author } : {}) });
  }

  // ---------- view of an image's filesystem ----------

  /** Runs fn with the image's root filesystem mounted read-only-by-convention (an empty directory for none). */
  private async withView<T>(image: ImageRecord | undefined, fn: (root: string) => Promise<T>): Promise<T> {
    const id = randomBytes(8).toString('hex');
    const dir = path.join(this.deps.workDir, 'mnt', id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const top = image?.chainIds[image.chainIds.length - 1];
    if (!top) {
      try {
        return await fn(dir);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    const snaps = this.deps.images.snapshots;
    const key = `build-${id}`;
    await snaps.prepare(key, top, { durable: false }); // scratch: a start after a crash removes it anyway
    try {
      snaps.mount(key, dir);
      try {
        return await fn(dir);
      } finally {
        snaps.unmount(dir);
      }
    } finally {
      await snaps.remove(key).catch((e: unknown) => log.warn('build view removal failed', { key, err: e }));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  // ---------- WORKDIR ----------

  private async workdirStep(st: State, p: string): Promise<void> {
    if (!p) throw new StepError('WORKDIR requires exactly one argument');
    const wd = p.startsWith('/') ? path.posix.normalize(p) : path.posix.join('/', st.run.WorkingDir || '/', p);
    const run = clone(st.run);
    run.WorkingDir = wd;
    const comment = `WORKDIR ${wd}`;
    const ccCmd = [...this.shell(run), '#(nop) ', comment];
    const createdBy = ccCmd.join(' ');
    const key = cacheKey(st.image?.id ?? '', createdBy, { run });
    if (await this.probe(st, key, createdBy, run)) return;
    // The directory is created (as Docker does) in a layer of its own when the image lacks it.
    await this.withView(st.image, async (root) => {
      const entries = this.workdirEntries(root, wd);
      await this.commit(st, { run, createdBy, ccCmd, key, ...(entries.length ? { layer: { fill: (dir: string) => writeEntriesAsLayer(entries, dir, { whiteouts: true }) } } : {}) });
    });
  }

  private workdirEntries(root: string, wd: string): TarInput[] {
    try {
      const d = destDirectory(root, wd, { uid: 0, gid: 0 }, Math.floor(Date.now() / 1000));
      return d.created ? d.parents : [];
    } catch (e) {
      throw new StepError(`cannot create WORKDIR ${wd}: ${(e as Error).message}`);
    }
  }

  // ---------- RUN ----------

  private async runStep(st: State, ins: RunInstr): Promise<void> {
    const flag = ins.flagsUsed[0];
    // Docker's legacy builder runs no RUN flag; it says so when the step is reached.
    if (flag !== undefined) throw new StepError(`the --${flag} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled`);
    let argv: string[];
    const binds: string[] = [];
    let scriptFile: string | undefined;
    const shell = this.shell(st.run);
    if (ins.command.json) argv = ins.command.args;
    else if (ins.heredocs.length) {
      const first = ins.heredocs[0] as (typeof ins.heredocs)[number];
      const onlyHeredoc = /^\d*<<-?\S+$/.test(ins.command.line.trim()) && ins.heredocs.length === 1;
      if (onlyHeredoc && first.content.startsWith('#!')) {
        // A script with an interpreter line: mounted into the container and executed (BuildKit's /dev/pipes).
        scriptFile = path.join(this.deps.workDir, `heredoc-${randomBytes(6).toString('hex')}`);
        fs.mkdirSync(this.deps.workDir, { recursive: true, mode: 0o700 });
        fs.writeFileSync(scriptFile, first.content, { mode: 0o755 });
        const target = `/dev/pipes/${first.name.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
        binds.push(`${scriptFile}:${target}:ro`);
        argv = [target];
      } else if (onlyHeredoc) argv = [...shell, first.content];
      else {
        let full = ins.command.line;
        for (const h of ins.heredocs) full += `\n${h.content}${h.name}`;
        argv = [...shell, full];
      }
    } else argv = [...shell, ins.command.line];
    try {
      await this.ensureImage(st);
      const { env, shown } = this.runArgs(st);
      const saveCmd = env.length ? [`|${shown.length}`, ...shown, ...argv] : argv;
      const createdBy = saveCmd.join(' ');
      const extra = scriptFile ? { heredoc: ins.heredocs[0]?.content } : null;
      const key = cacheKey(st.image?.id ?? '', createdBy, extra);
      const run = clone(st.run);
      if (await this.probe(st, key, createdBy, run)) return;
      const cid = await this.runContainer(st, argv, env, this.opts.networkMode, binds);
      let removed = false;
      try {
        const upper = this.deps.containers.paths(cid).upper;
        await this.commit(st, {
          run, createdBy, ccCmd: saveCmd, key, containerId: cid,
          layer: {
            fill: (dir: string) => copyTreeAsLayer(upper, dir, {
              whiteouts: true,
              filter: (rel, s) => !(MOUNTPOINT_FILES.has(rel) && s.isFile() && s.size === 0),
            }),
          },
        });
        if (this.opts.rm || this.opts.forceRm) {
          // Removed while the next step runs; the build waits for every removal before it ends (run()).
          removed = true;
          const removal = this.deps.containers.remove(cid, true, true).catch((e: unknown) => log.warn('intermediate container removal failed', { id: cid, err: e }));
          this.removals.push(removal);
          this.say(st, ` ---> Removed intermediate container ${shortId(cid)}\n`); // Docker 28 wording
        }
      } finally {
        if (!removed && (this.opts.rm || this.opts.forceRm)) await this.deps.containers.remove(cid, true, true).catch(() => undefined);
      }
    } finally {
      if (scriptFile) fs.rmSync(scriptFile, { force: true });
    }
  }

  /** RUN needs an image to start from: FROM scratch with nothing committed yet gets an empty one (always the same). */
  private async ensureImage(st: State): Promise<void> {
    if (st.image) return;
    const img = await this.deps.images.createImage({ config: { ...st.config, config: st.run, created: '1970-01-01T00:00:00Z', history: [] }, base: null, layers: [], durable: false });
    st.image = img;
  }

  private async runContainer(st: State, argv: string[], env: string[], network: string, binds: string[]): Promise<string> {
    const c = this.deps.containers;
    const image = st.image as ImageRecord;
    const hc: Record<string, unknown> = {
      ...this.opts.hostConfig,
      NetworkMode: network || 'default',
      Binds: binds,
      ...(this.opts.extraHosts.length ? { ExtraHosts: this.opts.extraHosts } : {}),
      LogConfig: { Type: 'json-file', Config: {} },
    };
    const { Id } = await c.create({
      Image: image.id, Cmd: argv, Entrypoint: [''], Env: env, Healthcheck: { Test: ['NONE'] },
      AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, HostConfig: hc,
    }, undefined, { ephemeral: true });
    this.say(st, ` ---> Running in ${shortId(Id)}\n`);
    let ok = false;
    try {
      const exited = c.wait(Id, 'next-exit');
      const onAbort = (): void => void c.remove(Id, true, true).catch(() => undefined);
      this.signal.addEventListener('abort', onAbort);
      try {
        await c.start(Id);
        const sink = new Demux((s) => this.say(st, s));
        const finished = new Promise<void>((resolve) => {
          sink.on('finish', resolve);
          sink.on('error', () => resolve());
        });
        try {
          c.logs(Id, sink, { stdout: true, stderr: true, follow: true, tail: 'all', timestamps: false });
        } catch (e) {
          log.warn('cannot stream RUN output', { id: Id, err: e });
          sink.end();
        }
        const { StatusCode } = await exited;
        await Promise.race([finished, new Promise((r) => setTimeout(r, 5000).unref())]);
        this.checkAbort();
        if (StatusCode !== 0) throw new StepError(`The command '${argv.join(' ')}' returned a non-zero code: ${StatusCode}`, StatusCode);
      } finally {
        this.signal.removeEventListener('abort', onAbort);
      }
      ok = true;
      return Id;
    } finally {
      if (!ok && (this.opts.rm || this.opts.forceRm)) await c.remove(Id, true, true).catch(() => undefined);
    }
  }

  // ---------- COPY / ADD ----------

  private async copyStep(st: State, ins: CopyInstr): Promise<void> {
    const cmd = ins.kind === 'copy' ? 'COPY' : 'ADD';
    const env = this.env(st);
    const x = (w: string): string => {
      try {
        return processWord(w, env, this.escape);
      } catch (e) {
        throw this.lexError(e, ins.node.original);
      }
    };
    const rawDest = x(ins.dest);
    if (!rawDest) throw new StepError(`${cmd} requires a destination`);
    const endsWithSlash = /\/\.?$/.test(rawDest) || rawDest === '.';
    let dest = rawDest.startsWith('/') ? rawDest : path.posix.join('/', st.run.WorkingDir || '/', rawDest);
    if (endsWithSlash && !dest.endsWith('/')) dest += '/';
    const chownSpec = ins.chown !== undefined ? x(ins.chown) : undefined;
    const chmodSpec = ins.chmod !== undefined ? x(ins.chmod) : undefined;
    let chmod: ModeFn | undefined;
    try {
      chmod = chmodSpec ? parseChmod(chmodSpec) : undefined;
    } catch (e) {
      throw new StepError((e as Error).message);
    }

    // Sources.
    let fromImage: ImageRecord | undefined;
    let fromKey: string | undefined;
    if (ins.from !== undefined) {
      const ref = x(ins.from);
      const stage = stageRef(this.df, ref, st.stage.index);
      if (stage) fromImage = await this.stageResult(stage, `${cmd} --from=${ref}`);
      else {
        if (/^\d+$/.test(ref)) throw new StepError(`invalid from flag value ${ref}: refers to current or a later build stage`);
        fromImage = await this.getImage(ref, st.out);
      }
      fromKey = fromImage?.id ?? 'scratch';
    }
    const items: CopyItem[] = [];
    const now = Math.floor(Date.now() / 1000);
    const paths: string[] = [];
    for (const s of ins.sources) {
      if (s.kind === 'heredoc') {
        let data = s.heredoc.content;
        if (s.heredoc.expand) {
          try {
            data = expandHeredoc(data, env, this.escape);
          } catch (e) {
            throw this.lexError(e, ins.node.original);
          }
        }
        items.push({ kind: 'data', name: s.heredoc.name, data: Buffer.from(data), mode: 0o644, mtime: now });
        continue;
      }
      const p = x(s.raw);
      if (cmd === 'ADD' && /^git@|^[a-z]+:\/\/.*\.git(#.*)?$/i.test(p)) throw new StepError(`ADD failed: git sources are not supported: ${p}`);
      if (cmd === 'ADD' && /^https?:\/\//i.test(p)) {
        const item = await this.download(p, endsWithSlash || ins.sources.length > 1);
        if (ins.checksum !== undefined && item.kind === 'data') {
          const want = x(ins.checksum);
          const got = `sha256:${createHash('sha256').update(item.data).digest('hex')}`;
          if (!/^sha256:[a-f0-9]{64}$/.test(want)) throw new StepError(`ADD failed: invalid checksum ${want}: only sha256:<hex> is supported`);
          if (want !== got) throw new StepError(`ADD failed: checksum of ${p} does not match: expected ${want}, got ${got}`);
        }
        // A downloaded archive is extracted only with ADD --unpack=true.
        if (ins.unpack === true && item.kind === 'data' && (await isArchiveBytes(async function* () {
          yield item.data;
        }))) items.push({ kind: 'archive', data: item.data });
        else items.push(item);
        continue;
      }
      if (ins.checksum !== undefined) throw new StepError('ADD --checksum can only be used with HTTP(S) sources');
      paths.push(p);
    }
    if (fromKey !== undefined) {
      if (ins.parents) throw new StepError(`${cmd} --parents is only supported for sources in the build context`);
      for (const p of paths) items.push({ kind: 'image', path: p });
    } else if (paths.length) {
      const exclude = ins.exclude?.length ? new PatternMatcher(parseDockerignore(ins.exclude.map((e) => x(e)).join('\n'))) : undefined;
      for (const it of contextItems(this.ctx, paths, cmd, exclude, ins.parents === true)) {
        // Local archives are extracted unless ADD --unpack=false.
        if (cmd === 'ADD' && ins.unpack !== false && it.kind === 'ctx' && (await isArchive(this.ctx, it.node))) items.push({ kind: 'archive', node: it.node });
        else items.push(it);
      }
    }
    // With --no-cache the sources' checksum is only for the history entry: it is computed while the layer is written.
    const checksumP = sourcesChecksum(this.ctx, items, fromKey);
    checksumP.catch(() => undefined); // awaited below
    const flags = [
      ...(fromKey !== undefined ? [`--from=${fromKey === 'scratch' ? 'scratch' : shortId(fromKey)}`] : []),
      ...(chownSpec ? [`--chown=${chownSpec}`] : []),
      ...(chmodSpec ? [`--chmod=${chmodSpec}`] : []),
      ...(ins.exclude ?? []).map((e) => `--exclude=${x(e)}`),
      ...(ins.parents ? ['--parents'] : []),
    ];
    const run = clone(st.run);
    const describe = (checksum: string): { ccCmd: string[]; createdBy: string; key: string } => {
      const comment = `${cmd} ${flags.map((f) => `${f} `).join('')}${checksum} in ${dest} `;
      const ccCmd = [...this.shell(run), `#(nop) ${comment}`];
      const createdBy = ccCmd.join(' ');
      return { ccCmd, createdBy, key: cacheKey(st.image?.id ?? '', createdBy, { fromKey: fromKey ?? null, paths: fromKey !== undefined ? paths : null }) };
    };
    if (!this.opts.noCache) {
      const d = describe(await checksumP);
      if (await this.probe(st, d.key, d.createdBy, run)) return;
    }

    await this.withView(st.image, async (destRoot) => {
      let chown: Identity | undefined;
      try {
        chown = chownSpec ? parseChown(chownSpec, destRoot) : undefined;
      } catch (e) {
        throw new StepError((e as Error).message);
      }
      const make = async (srcRoot: string | undefined): Promise<void> => {
        // Resolve everything (errors such as a missing source) before the layer is written.
        const entries: TarInput[] = [];
        const gen = copyEntries({
          destRoot, dest, ...(srcRoot !== undefined ? { srcRoot } : {}), ctx: this.ctx, items,
          ...(chown ? { chown } : {}), ...(chmod !== undefined ? { chmod } : {}), cmd, now,
        });
        const first = await gen.next();
        if (!first.done) entries.push(first.value);
        async function* all(): AsyncGenerator<TarInput> {
          yield* entries;
          yield* gen;
        }
        // Archives (ADD of a local tar) go through the extractor, whose rules their entries need.
        if (items.some((it) => it.kind === 'archive')) {
          await this.commit(st, { run, ...describe(await checksumP), layer: { tar: () => packTar(all()) } });
          return;
        }
        // The rest is written directly, hashed in a worker of its own (the checksum may still be on the other).
        const base = st.image ? (st.image.chainIds[st.image.chainIds.length - 1] ?? null) : null;
        const [sum, made] = await Promise.allSettled([
          checksumP,
          this.deps.images.snapshots.importTree(base, (dir) => writeEntriesAsLayer(all(), dir, { whiteouts: true, hasher: streamHasher(1) })),
        ]);
        if (made.status === 'rejected') throw made.reason;
        if (sum.status === 'rejected') {
          made.value.release();
          throw sum.reason;
        }
        await this.commit(st, { run, ...describe(sum.value), layer: { made: made.value } });
      };
      if (fromKey !== undefined) await this.withView(fromImage, (srcRoot) => make(srcRoot));
      else await make(undefined);
    });
  }

  private async download(url: string, intoDir: boolean): Promise<CopyItem> {
    let res: GetResult;
    const timeout = AbortSignal.timeout(120_000);
    const signal = AbortSignal.any([this.signal, timeout]);
    try {
      res = await httpGet(url, { signal });
    } catch (e) {
      throw new StepError(`ADD failed: failed to GET ${url}: ${(e as Error).message}`);
    }
    if (res.status < 200 || res.status > 299) throw new StepError(`ADD failed: failed to GET ${url} with status ${res.status} ${res.statusText}`);
    const data = res.body;
    const lm = res.header('last-modified');
    const mtime = lm && !Number.isNaN(Date.parse(lm)) ? Math.floor(Date.parse(lm) / 1000) : Math.floor(Date.now() / 1000);
    let name = '';
    try {
      name = decodeURIComponent(path.posix.basename(new URL(url).pathname));
    } catch {
      name = '';
    }
    if (!name) {
      // Then the server's Content-Disposition filename, as moby's builder does (a base name only).
      const m = /filename="?([^";]+)"?/i.exec(res.header('content-disposition') ?? '');
      const f = m?.[1] ? path.posix.basename(m[1].trim()) : '';
      if (f && f !== '.' && f !== '..') name = f;
    }
    if (!name && intoDir) throw new StepError(`ADD failed: cannot determine filename from url: ${url}`);
    return { kind: 'data', name: name || 'download', data, mode: 0o600, mtime };
  }
}

