// Image routes. Names may contain '/' and ':', so they are matched greedily.
import { invalid, notImplemented } from '../../common/errors';
import { parseBool, parseFilters } from '../../common/filters';
import type { ImageBackend } from '../backends';
import type { Router } from '../server';

export function imageRoutes(r: Router, b: ImageBackend): void {
  r.get('/images/json', (c) => {
    c.send(200, b.list({ all: parseBool(c.query.get('all')), filters: parseFilters(c.query.get('filters')), digests: parseBool(c.query.get('digests')) }));
  });
  r.post('/images/create', async (c) => {
    const q = c.query;
    const fromSrc = q.get('fromSrc');
    if (fromSrc === null) {
      throw invalid('fromImage or fromSrc is required');
    }
    if (fromSrc !== '-') throw notImplemented('importing from a URL is not supported yet');
    let repo = q.get('repo') ?? undefined;
    let tag = q.get('tag') ?? undefined;
    if (repo === '') repo = undefined;
    if (tag === '') tag = undefined;
    const changes = q.getAll('changes').flatMap((s) => s.split('\n')).filter((s) => s.trim());
    const message = q.get('message') ?? undefined;
    const platform = q.get('platform') ?? undefined;
    const body = c.bodyStream();
    const id = await b.importTar(body, {
      ...(repo ? { repo } : {}), ...(tag ? { tag } : {}), ...(message ? { message } : {}), changes, ...(platform ? { platform } : {}),
    }).catch((e: unknown) => {
      (body as NodeJS.ReadableStream & { resume(): void }).resume(); // drain what the client still sends, so the error can be answered
      throw e;
    });
    const res = c.stream(200);
    res.end(JSON.stringify({ status: id }) + '\n');
  });
  r.post('/images/prune', async (c) => {
    if (!b.prune) throw notImplemented('image prune is not supported yet');
    c.send(200, await b.prune(parseFilters(c.query.get('filters'))));
  });
  r.get('/images/search', () => {
    throw invalid('Get "https://index.docker.io/v1/search": dial tcp: lookup index.docker.io: no such host');
  });
  r.get('/images/:name*/json', (c) => c.send(200, b.inspect(c.params[0]!)));
  r.get('/images/:name*/history', (c) => c.send(200, b.history(c.params[0]!)));
  r.post('/images/:name*/tag', (c) => {
    const repo = c.query.get('repo');
    if (!repo) throw invalid('repository name must have at least one component');
    b.tag(c.params[0]!, repo, c.query.get('tag') || undefined);
    c.send(201);
  });
  r.delete('/images/:name*', (c) => {
    c.send(200, b.remove(c.params[0]!, parseBool(c.query.get('force')), parseBool(c.query.get('noprune'))));
  });
}
