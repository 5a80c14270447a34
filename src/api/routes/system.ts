// /_ping, /version, /info, /events, /system/df and the few stubs clients probe.
import { parseFilters, parseTimestamp } from '../../common/filters';
import { notFound } from '../../common/errors';
import type { SystemBackend } from '../backends';
import { API_VERSION, commonHeaders, type Router } from '../server';

export function systemRoutes(r: Router, b: SystemBackend): void {
  const ping = (c: Parameters<Parameters<Router['get']>[1]>[0]): void => {
    const res = c.res!;
    res.writeHead(200, {
      ...commonHeaders,
      'Api-Version': API_VERSION,
      'Builder-Version': '1',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      'Pragma': 'no-cache',
      'Swarm': 'inactive',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': '2',
    });
    res.end(c.method === 'HEAD' ? undefined : 'OK');
  };
  r.get('/_ping', ping);
  r.head('/_ping', ping);
  r.get('/version', (c) => c.send(200, b.version()));
  r.get('/info', async (c) => c.send(200, await b.info()));
  r.get('/system/df', async (c) => c.send(200, await b.df()));
  r.get('/events', (c) => {
    const q = c.query;
    const sinceMs = q.get('since') ? parseTimestamp(q.get('since')!) : undefined;
    const untilMs = q.get('until') ? parseTimestamp(q.get('until')!) : undefined;
    const res = c.stream(200);
    const write = (e: unknown): void => { res.write(JSON.stringify(e) + '\n'); };
    const sub = b.events({
      ...(sinceMs !== undefined ? { since: sinceMs } : {}),
      ...(untilMs !== undefined ? { until: untilMs } : {}),
      filters: parseFilters(q.get('filters')),
    }, write);
    for (const e of sub.history) write(e);
    let timer: NodeJS.Timeout | undefined;
    const end = (): void => {
      sub.unsubscribe();
      if (timer) clearTimeout(timer);
      res.end();
    };
    if (untilMs !== undefined) {
      const wait = untilMs - Date.now();
      if (wait <= 0) { end(); return; }
      timer = setTimeout(end, wait);
    }
    res.on('close', () => { sub.unsubscribe(); if (timer) clearTimeout(timer); });
  });
  r.post('/build/prune', (c) => c.send(200, { CachesDeleted: [], SpaceReclaimed: 0 }));
  r.post('/auth', async (c) => {
    await c.json();
    c.send(200, { IdentityToken: '', Status: 'Login Succeeded' });
  });
  // Networks and volumes arrive with their own issues; until then the
  // predefined networks exist and lookups of anything else are 404s, which
  // `docker inspect` relies on when it walks object types.
  const predefined = ['bridge', 'host', 'none'].map((name) => ({
    Name: name, Id: name.padEnd(64, '0').replace(/[^0-9a-f]/g, '0'), Created: '0001-01-01T00:00:00Z', Scope: 'local',
    Driver: name === 'none' ? 'null' : name, EnableIPv6: false, IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  }));
  r.get('/networks', (c) => c.send(200, predefined));
  r.get('/networks/:id', (c) => {
    const n = predefined.find((p) => p.Name === c.params[0] || p.Id.startsWith(c.params[0]!));
    if (!n) throw notFound(`network ${c.params[0]!} not found`);
    c.send(200, n);
  });
  r.post('/networks/prune', (c) => c.send(200, { NetworksDeleted: null }));
  r.get('/volumes', (c) => c.send(200, { Volumes: [], Warnings: null }));
  r.get('/volumes/:name', (c) => { throw notFound(`get ${c.params[0]!}: no such volume`); });
  r.post('/volumes/prune', (c) => c.send(200, { VolumesDeleted: null, SpaceReclaimed: 0 }));
  r.get('/plugins/:name*/json', (c) => { throw notFound(`plugin "${c.params[0]!}" not found`); });
}
