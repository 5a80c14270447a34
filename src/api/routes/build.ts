// POST /build (the legacy builder protocol the docker CLI uses without
// buildx) and POST /build/prune. The response is a JSON message stream; it
// starts with the first message, so errors found before any output (a bad
// Dockerfile, a missing target) are answered with a status code, as Docker
// does, and later ones in-band as {"errorDetail":...,"error":...}.
import type * as http from 'node:http';
import { invalid, notImplemented } from '../../common/errors';
import { parseBool, parseFilters } from '../../common/filters';
import type { BuildBackend, BuildRequest } from '../backends';
import type { Router } from '../server';

function jsonParam<T>(q: URLSearchParams, name: string, check: (v: unknown) => v is T, dflt: T): T {
  const raw = q.get(name);
  if (raw === null || raw === '' || raw === 'null') return dflt;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw invalid(`invalid JSON in ${name}: ${(e as Error).message}`);
  }
  if (v === null) return dflt;
  if (!check(v)) throw invalid(`invalid value for ${name}: ${raw}`);
  return v;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrMap = (v: unknown): v is Record<string, string> => isObj(v) && Object.values(v).every((x) => typeof x === 'string');
const isArgMap = (v: unknown): v is Record<string, string | null> => isObj(v) && Object.values(v).every((x) => typeof x === 'string' || x === null);
const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isList = (v: unknown): v is unknown[] => Array.isArray(v);

function intParam(q: URLSearchParams, name: string): number | undefined {
  const raw = q.get(name);
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw invalid(`invalid value for ${name}: ${raw}`);
  return n;
}

/** Reads the query into a build request (unknown parameters are ignored, as Docker does). */
export function parseBuildQuery(q: URLSearchParams): BuildRequest & { remote?: string } {
  const version = q.get('version');
  if (version === '2') throw invalid('BuildKit is not supported by this daemon: build with the legacy builder (DOCKER_BUILDKIT=0)');
  if (parseBool(q.get('squash'))) throw invalid('squash is only supported with experimental mode');
  if (q.get('outputs')) throw invalid('outputs are only supported with BuildKit');
  const hostConfig: Record<string, unknown> = {};
  const setInt = (param: string, key: string): void => {
    const v = intParam(q, param);
    if (v !== undefined && v !== 0) hostConfig[key] = v;
  };
  setInt('memory', 'Memory');
  setInt('memswap', 'MemorySwap');
  setInt('cpushares', 'CpuShares');
  setInt('cpuquota', 'CpuQuota');
  setInt('cpuperiod', 'CpuPeriod');
  setInt('shmsize', 'ShmSize');
  if (q.get('cpusetcpus')) hostConfig['CpusetCpus'] = q.get('cpusetcpus');
  if (q.get('cpusetmems')) hostConfig['CpusetMems'] = q.get('cpusetmems');
  if (q.get('cgroupparent')) hostConfig['CgroupParent'] = q.get('cgroupparent');
  const ulimits = jsonParam(q, 'ulimits', isList, []);
  if (ulimits.length) hostConfig['Ulimits'] = ulimits;
  const buildArgs = new Map(Object.entries(jsonParam(q, 'buildargs', isArgMap, {})));
  const network = q.get('networkmode') || 'default';
  const remote = q.get('remote') || undefined;
  const platform = q.get('platform') || undefined;
  const target = q.get('target') || undefined;
  return {
    dockerfile: q.get('dockerfile') || '',
    tags: q.getAll('t').filter((t) => t !== ''),
    ...(target ? { target } : {}),
    buildArgs,
    labels: jsonParam(q, 'labels', isStrMap, {}),
    noCache: parseBool(q.get('nocache')),
    pull: parseBool(q.get('pull')),
    rm: parseBool(q.get('rm'), true),
    forceRm: parseBool(q.get('forcerm')),
    quiet: parseBool(q.get('q')),
    networkMode: network === 'bridge' ? 'default' : network,
    ...(platform ? { platform } : {}),
    cacheFrom: jsonParam(q, 'cachefrom', isStrList, []),
    extraHosts: q.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean),
    hostConfig,
    ...(remote ? { remote } : {}),
  };
}

export function buildRoutes(r: Router, b: BuildBackend | undefined): void {
  r.post('/build', async (c) => {
    if (!b) throw notImplemented('the builder is not available');
    const opts = parseBuildQuery(c.query);
    const rc = c.req.headers['x-registry-config'];
    if (typeof rc === 'string' && rc !== '' && rc !== 'e30=') {
      try {
        const v: unknown = JSON.parse(Buffer.from(rc, 'base64').toString('utf8'));
        if (isObj(v)) opts.registryAuth = v;
      } catch {
        /* ignored, as Docker does with a malformed header */
      }
    }
    let res: http.ServerResponse | undefined;
    const write = (obj: unknown): void => {
      if (!res) res = c.stream(200);
      res.write(`${JSON.stringify(obj)}\n`);
    };
    const quietText: string[] = [];
    const out = {
      stream: (text: string): void => {
        if (opts.quiet) quietText.push(text);
        else write({ stream: text });
      },
      aux: (v: unknown): void => write({ aux: v }),
      progress: (m: unknown): void => {
        if (!opts.quiet) write(m);
      },
    };
    // The client going away cancels the build.
    const ac = new AbortController();
    const onClose = (): void => {
      if (!c.res?.writableFinished) ac.abort();
    };
    c.res?.on('close', onClose);
    try {
      const result = await b.build(c.bodyStream(), opts, out, ac.signal);
      if (opts.quiet) write({ stream: `${result.id}\n` });
      res?.end();
    } catch (e) {
      if (!res && !(opts.quiet && quietText.length)) throw e;
      if (opts.quiet && quietText.length) write({ stream: quietText.join('') });
      const message = e instanceof Error ? e.message : String(e);
      const code = (e as { code?: unknown }).code;
      const detail = typeof code === 'number' ? { code, message } : { message };
      res?.end(`${JSON.stringify({ errorDetail: detail, error: message })}\n`);
    } finally {
      c.res?.off('close', onClose);
    }
  });
  r.post('/build/prune', async (c) => {
    if (!b) {
      c.send(200, { CachesDeleted: null, SpaceReclaimed: 0 });
      return;
    }
    const ks = Number(c.query.get('keep-storage') ?? 0);
    c.send(200, await b.prune({ all: parseBool(c.query.get('all')), filters: parseFilters(c.query.get('filters')), ...(ks > 0 ? { keepStorage: ks } : {}) }));
  });
}
