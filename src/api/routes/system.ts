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
    const write = (json: string): void => { res.write(json + '\n'); };
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
  r.get('/plugins/:name*/json', (c) => { throw notFound(`plugin "${c.params[0]!}" not found`); });
}
