// Registry and archive routes: pull (POST /images/create?fromImage), push,
// login (POST /auth), save (GET /images/get, /images/{name}/get) and load.
// Pull and push answer with Docker's JSON progress stream; the status line
// and headers go out with the first message, so errors found before anything
// was sent (bad reference, unknown manifest, auth) are plain HTTP errors as
// with Docker, and later ones are an errorDetail line.
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { invalid } from '../../common/errors';
import { parseBool } from '../../common/filters';
import type { DistributionBackend } from '../backends';
import type { Ctx, Handler, Router } from '../server';

/** A JSON-lines writer that starts the 200 response with its first message. */
function jsonStream(c: Ctx): { write: (m: unknown) => void; end: () => void; signal: AbortSignal } {
  const ac = new AbortController();
  let res: ServerResponse | undefined;
  c.res?.on('close', () => {
    if (!c.res?.writableFinished) ac.abort(new Error('context canceled'));
  });
  return {
    write: (m) => {
      res ??= c.stream(200);
      if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(m) + '\n');
    },
    end: () => {
      res ??= c.stream(200);
      if (!res.writableEnded) res.end();
    },
    signal: ac.signal,
  };
}

/**
 * Registers the routes. /images/create is shared with image import:
 * requests without fromImage (or with fromSrc) go to importRoute.
 */
export function distributionRoutes(r: Router, b: DistributionBackend, importRoute?: Handler): void {
  r.post('/images/create', async (c) => {
    const q = c.query;
    const fromImage = q.get('fromImage');
    if (q.get('fromSrc') !== null || !fromImage) {
      if (importRoute) return importRoute(c);
      throw invalid('fromImage or fromSrc is required');
    }
    const s = jsonStream(c);
    const tag = q.get('tag') ?? '';
    const platform = q.get('platform') ?? '';
    await b.pull({ fromImage, ...(tag ? { tag } : {}), ...(platform ? { platform } : {}), authHeader: headerOf(c, 'x-registry-auth') }, s.write, s.signal);
    s.end();
  });

  r.post('/images/:name*/push', async (c) => {
    let authHeader = headerOf(c, 'x-registry-auth');
    if (!authHeader) {
      // The old API sent the auth config as the body.
      const body = await c.json<unknown>();
      if (typeof body !== 'object' || body === null || Object.keys(body).length === 0) throw invalid('Bad parameters and missing X-Registry-Auth: EOF');
      authHeader = Buffer.from(JSON.stringify(body)).toString('base64');
    }
    const s = jsonStream(c);
    const tag = c.query.get('tag') ?? '';
    await b.push({ name: c.params[0]!, ...(tag ? { tag } : {}), authHeader }, s.write, s.signal);
    s.end();
  });

  r.post('/auth', async (c) => {
    const body = await c.json<unknown>();
    c.send(200, await b.login(body));
  });

  const save = async (c: Ctx, names: string[]): Promise<void> => {
    if (!names.length) throw invalid('no image names given');
    const tar = await b.save(names); // unknown names fail here, before any byte is sent
    const res = c.stream(200, 'application/x-tar');
    await new Promise<void>((resolve) => {
      pipeline(tar, res, (err) => {
        if (err) res.destroy(); // mid-stream failure: the client sees a truncated tar, as with Docker
        resolve();
      });
    });
  };
  r.get('/images/get', (c) => save(c, c.query.getAll('names').filter((n) => n !== '')));
  r.get('/images/:name*/get', (c) => save(c, [c.params[0]!]));

  r.post('/images/load', async (c) => {
    const body = c.bodyStream();
    const res = c.stream(200);
    const write = (m: unknown): void => {
      if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify(m) + '\n');
    };
    try {
      await b.load(body, { quiet: parseBool(c.query.get('quiet')) }, write);
    } catch (e) {
      (body as NodeJS.ReadableStream & { resume(): void }).resume(); // drain what the client still sends
      throw e; // answered in-band (errorDetail), as Docker does
    }
    res.end();
  });
}

function headerOf(c: Ctx, name: string): string {
  const v = c.req.headers[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}
