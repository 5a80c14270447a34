// Container and exec routes: decode the request, call the backend, encode the reply.
import { invalid } from '../../common/errors';
import { parseBool, parseFilters, parseTimestamp } from '../../common/filters';
import type { ContainerBackend } from '../backends';
import type { Ctx, Router } from '../server';

function optInt(v: string | null, name: string): number | undefined {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw invalid(`invalid value for ${name}: ${v}`);
  return n;
}

function since(v: string | null): number | undefined {
  if (!v) return undefined;
  const ms = parseTimestamp(v);
  return ms / 1000;
}

export function containerRoutes(r: Router, b: ContainerBackend): void {
  r.get('/containers/json', (c) => {
    c.send(200, b.list({
      all: parseBool(c.query.get('all')),
      limit: optInt(c.query.get('limit'), 'limit') ?? -1,
      size: parseBool(c.query.get('size')),
      filters: parseFilters(c.query.get('filters')),
    }));
  });
  r.post('/containers/create', async (c) => {
    const body = await c.json<Record<string, unknown>>();
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('config cannot be empty in order to create a container');
    c.send(201, await b.create(body, c.query.get('name') ?? undefined, c.query.get('platform') || undefined));
  });
  r.post('/containers/prune', async (c) => c.send(200, await b.prune(parseFilters(c.query.get('filters')))));
  r.get('/containers/:id/json', (c) => c.send(200, b.inspect(c.params[0]!, parseBool(c.query.get('size')))));
  r.post('/containers/:id/start', async (c) => {
    await b.start(c.params[0]!);
    c.send(204);
  });
  r.post('/containers/:id/stop', async (c) => {
    await b.stop(c.params[0]!, optInt(c.query.get('t'), 't'), c.query.get('signal') ?? undefined);
    c.send(204);
  });
  r.post('/containers/:id/restart', async (c) => {
    await b.restart(c.params[0]!, optInt(c.query.get('t'), 't'), c.query.get('signal') ?? undefined);
    c.send(204);
  });
  r.post('/containers/:id/kill', async (c) => {
    await b.kill(c.params[0]!, c.query.get('signal') ?? undefined);
    c.send(204);
  });
  r.post('/containers/:id/pause', async (c) => { await b.pause(c.params[0]!); c.send(204); });
  r.post('/containers/:id/unpause', async (c) => { await b.unpause(c.params[0]!); c.send(204); });
  r.post('/containers/:id/rename', (c) => {
    b.rename(c.params[0]!, c.query.get('name') ?? '');
    c.send(204);
  });
  r.post('/containers/:id/update', async (c) => {
    const body = await c.json<Record<string, unknown>>();
    c.send(200, await b.update(c.params[0]!, body));
  });
  r.delete('/containers/:id', async (c) => {
    await b.remove(c.params[0]!, parseBool(c.query.get('force')), parseBool(c.query.get('v')));
    c.send(204);
  });
  r.post('/containers/:id/wait', async (c) => {
    const p = b.wait(c.params[0]!, c.query.get('condition') ?? '');
    // Headers first: the docker CLI waits for them before it sends start.
    const res = c.stream(200);
    let closed = false;
    res.on('close', () => { closed = true; });
    const result = await p;
    if (!closed) res.end(JSON.stringify(result) + '\n');
  });
  r.post('/containers/:id/resize', (c) => {
    b.resize(c.params[0]!, optInt(c.query.get('h'), 'h') ?? 0, optInt(c.query.get('w'), 'w') ?? 0);
    c.send(200);
  });
  r.post('/containers/:id/attach', (c) => {
    b.attach(c.params[0]!, () => c.hijack(), {
      stdin: parseBool(c.query.get('stdin')),
      stdout: parseBool(c.query.get('stdout')),
      stderr: parseBool(c.query.get('stderr')),
      stream: parseBool(c.query.get('stream')),
      logs: parseBool(c.query.get('logs')),
      detachKeys: c.query.get('detachKeys'),
    });
  });
  r.get('/containers/:id/logs', (c) => {
    const q = c.query;
    const stdout = parseBool(q.get('stdout')), stderr = parseBool(q.get('stderr'));
    if (!stdout && !stderr) throw invalid('Bad parameters: you must choose at least one stream');
    const id = c.params[0]!;
    const tty = b.isTty(id);
    const opts = {
      stdout, stderr, follow: parseBool(q.get('follow')), tail: q.get('tail') ?? 'all', timestamps: parseBool(q.get('timestamps')),
      // The docker and berth CLIs copy frames straight to stdout/stderr, so
      // several lines per frame cost them nothing and save a write per line
      // (100k-line logs: the CLI's writes dominated). SDKs that iterate
      // frames as lines keep Docker's one line per frame.
      coalesce: /^(Docker-Client|berth-cli)\//.test(c.req.headers['user-agent'] ?? ''),
      ...(since(q.get('since')) !== undefined ? { since: since(q.get('since'))! } : {}),
      ...(since(q.get('until')) !== undefined ? { until: since(q.get('until'))! } : {}),
    };
    const res = c.stream(200, tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
    const h = b.logs(id, res, opts);
    res.on('close', () => h.stop());
  });
  r.get('/containers/:id/stats', (c) => {
    const stream = parseBool(c.query.get('stream'), true);
    const oneShot = parseBool(c.query.get('one-shot'));
    let res: ReturnType<typeof c.stream> | undefined;
    const cancel = b.stats(c.params[0]!, { stream, oneShot }, (obj) => {
      res ??= c.stream(200);
      res.write(JSON.stringify(obj) + '\n');
    }, () => { (res ??= c.stream(200)).end(); });
    res ??= c.stream(200);
    res.on('close', cancel);
  });
  r.get('/containers/:id/top', async (c) => c.send(200, await b.top(c.params[0]!, c.query.get('ps_args') ?? '')));
  r.post('/containers/:id/exec', async (c) => {
    const body = await c.json<Record<string, unknown>>();
    c.send(201, b.execCreate(c.params[0]!, body));
  });
  r.post('/exec/:id/start', async (c) => {
    const body = await c.json<{ Detach?: boolean; Tty?: boolean }>();
    const detach = body.Detach === true;
    if (detach || !c.isUpgrade) {
      await b.execStart(c.params[0]!, { detach: true, ...(body.Tty !== undefined ? { tty: body.Tty } : {}) });
      c.send(200);
      return;
    }
    await b.execStart(c.params[0]!, { detach: false, ...(body.Tty !== undefined ? { tty: body.Tty } : {}) }, () => c.hijack());
  });
  r.post('/exec/:id/resize', (c) => {
    b.execResize(c.params[0]!, optInt(c.query.get('h'), 'h') ?? 0, optInt(c.query.get('w'), 'w') ?? 0);
    c.send(200);
  });
  r.get('/exec/:id/json', (c) => c.send(200, b.execInspect(c.params[0]!)));
}

export type { Ctx };
