// Network routes: create, ls, inspect, rm, prune, connect, disconnect.
import { invalid } from '../../common/errors';
import { parseFilters } from '../../common/filters';
import type { NetworkBackend } from '../backends';
import type { Router } from '../server';

export function networkRoutes(r: Router, b: NetworkBackend): void {
  const body = async (c: Parameters<Parameters<Router['post']>[1]>[0]): Promise<Record<string, unknown>> => {
    const v = await c.json<unknown>();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('invalid JSON body: expected an object');
    return v as Record<string, unknown>;
  };
  r.get('/networks', (c) => c.send(200, b.list(parseFilters(c.query.get('filters')))));
  r.get('/networks/', (c) => c.send(200, b.list(parseFilters(c.query.get('filters')))));
  r.post('/networks/create', async (c) => c.send(201, await b.create(await body(c))));
  r.post('/networks/prune', async (c) => c.send(200, await b.prune(parseFilters(c.query.get('filters')))));
  r.get('/networks/:id', (c) => c.send(200, b.inspectNetwork(c.params[0]!)));
  r.delete('/networks/:id', async (c) => {
    await b.remove(c.params[0]!);
    c.send(204);
  });
  r.post('/networks/:id/connect', async (c) => {
    await b.connect(c.params[0]!, await body(c));
    c.send(200);
  });
  r.post('/networks/:id/disconnect', async (c) => {
    await b.disconnect(c.params[0]!, await body(c));
    c.send(200);
  });
}
