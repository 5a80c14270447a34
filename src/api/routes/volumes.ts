// Volume routes: create, list, inspect, remove, prune.
import { invalid } from '../../common/errors';
import { parseBool, parseFilters } from '../../common/filters';
import type { VolumeBackend } from '../backends';
import type { Router } from '../server';

function strMap(v: unknown, field: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`json: cannot unmarshal into Go struct field VolumeCreateBody.${field} of type map[string]string`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw invalid(`json: cannot unmarshal ${typeof x} into Go struct field VolumeCreateBody.${field} of type string`);
    out[k] = x;
  }
  return out;
}

function str(v: unknown, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field VolumeCreateBody.${field} of type string`);
  return v;
}

export function volumeRoutes(r: Router, b: VolumeBackend): void {
  r.post('/volumes/create', async (c) => {
    const body = await c.json<Record<string, unknown> | null>();
    const o = body && typeof body === 'object' && !Array.isArray(body) ? body : {};
    c.send(201, b.create({
      name: str(o['Name'], 'Name'),
      driver: str(o['Driver'], 'Driver'),
      options: strMap(o['DriverOpts'], 'DriverOpts'),
      labels: strMap(o['Labels'], 'Labels'),
    }));
  });
  r.get('/volumes', (c) => c.send(200, { Volumes: b.list(parseFilters(c.query.get('filters'))), Warnings: null }));
  r.post('/volumes/prune', async (c) => c.send(200, await b.prune(parseFilters(c.query.get('filters')), c.version)));
  r.get('/volumes/:name', (c) => c.send(200, b.inspect(c.params[0]!)));
  r.delete('/volumes/:name', (c) => {
    b.remove(c.params[0]!, parseBool(c.query.get('force')));
    c.send(204);
  });
}
