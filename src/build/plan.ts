// Planning: which stages a build runs (the target and what it depends on, via
// FROM <stage> and COPY --from), the global (meta) ARGs, and the step count
// the output shows. Cache keys are computed per step as the build goes (they
// need the parent image each step produces): see cacheKey().
import { createHash } from 'node:crypto';
import { invalid } from '../common/errors';
import { hostArch } from '../images';
import type { ArgInstr, Dockerfile, Stage } from './dockerfile/instructions';
import { processWord } from './dockerfile/shell-lex';

/** Args every build accepts without declaring them (Docker's builtinAllowedBuildArgs). */
export const PROXY_ARGS = new Set([
  'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy',
]);

/** BuildKit's automatic platform args (global scope; a stage uses them after `ARG NAME`). */
export function platformArgs(): Map<string, string> {
  const arch = hostArch();
  const m = new Map<string, string>();
  for (const p of ['BUILD', 'TARGET']) {
    m.set(`${p}PLATFORM`, `linux/${arch}`);
    m.set(`${p}OS`, 'linux');
    m.set(`${p}ARCH`, arch);
    m.set(`${p}VARIANT`, '');
  }
  return m;
}

export interface Plan {
  /** Stages to run, in order. */
  stages: Stage[];
  target: Stage;
  /** Global args with a value (for FROM and for `ARG NAME` in stages). */
  meta: Map<string, string>;
  /** Names declared by global ARGs. */
  metaDeclared: Set<string>;
  totalSteps: number;
}

/** Evaluates the global ARGs in order (build-arg values win over defaults). */
export function evalMetaArgs(metaArgs: ArgInstr[], buildArgs: ReadonlyMap<string, string | null>, escape: string): { meta: Map<string, string>; declared: Set<string> } {
  const meta = new Map<string, string>(platformArgs());
  for (const [k, v] of buildArgs) if (v !== null && meta.has(k)) meta.set(k, v);
  const declared = new Set<string>();
  for (const ins of metaArgs) {
    for (const a of ins.args) {
      declared.add(a.key);
      const given = buildArgs.get(a.key);
      if (given !== undefined && given !== null) meta.set(a.key, given);
      else if (a.value !== undefined) meta.set(a.key, processWord(a.value, meta, escape));
    }
  }
  return { meta, declared };
}

/** The stage a name or index refers to, if it is one declared before `before`. */
export function stageRef(df: Dockerfile, ref: string, before: number): Stage | undefined {
  if (/^\d+$/.test(ref)) {
    const s = df.stages[Number(ref)];
    return s && s.index < before ? s : undefined;
  }
  const lower = ref.toLowerCase();
  return df.stages.find((s) => s.name === lower && s.index < before);
}

export function planBuild(df: Dockerfile, o: { target?: string; buildArgs: ReadonlyMap<string, string | null>; extraSteps: number }): Plan {
  const { meta, declared } = evalMetaArgs(df.metaArgs, o.buildArgs, df.escape);
  let target = df.stages[df.stages.length - 1] as Stage;
  if (o.target) {
    const t = df.stages.find((s) => s.name === o.target?.toLowerCase());
    if (!t) throw invalid(`target stage ${JSON.stringify(o.target)} could not be found`);
    target = t;
  }
  const needed = new Set<number>();
  const visit = (s: Stage): void => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    let base = s.from.image;
    try {
      base = processWord(s.from.image, meta, df.escape);
    } catch {
      /* reported when the stage runs */
    }
    const fromStage = stageRef(df, base, s.index);
    if (fromStage && !/^\d+$/.test(base)) visit(fromStage);
    for (const ins of s.instructions) {
      if ((ins.kind === 'copy' || ins.kind === 'add') && ins.from !== undefined) {
        let ref = ins.from;
        try {
          ref = processWord(ins.from, meta, df.escape);
        } catch {
          /* idem */
        }
        const dep = stageRef(df, ref, s.index);
        if (dep) visit(dep);
      }
    }
  };
  visit(target);
  const stages = df.stages.filter((s) => needed.has(s.index));
  // As Docker's legacy builder, the global ARGs count as steps (printed first).
  const totalSteps = df.metaArgs.length + stages.reduce((n, s) => n + 1 + s.instructions.length, 0) + o.extraSteps;
  return { stages, target, meta, metaDeclared: declared, totalSteps };
}

/** A step's cache key: the image it runs on, what it does (history text) and anything else its result depends on. */
export function cacheKey(parent: string, createdBy: string, extra: unknown): string {
  return createHash('sha256').update(JSON.stringify({ p: parent, c: createdBy, x: extra ?? null })).digest('hex');
}
