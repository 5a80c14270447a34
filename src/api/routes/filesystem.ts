// Container filesystem routes: the archive endpoints of docker cp, changes
// (diff), export, and POST /commit.
import { invalid } from '../../common/errors';
import { parseBool } from '../../common/filters';
import type { FilesystemBackend } from '../backends';
import { commonHeaders, type Router } from '../server';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function statHeader(stat: unknown): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

/** Lets the client finish sending a body we will not read, so the error can be answered. */
function drain(s: NodeJS.ReadableStream): void {
  (s as NodeJS.ReadableStream & { resume(): void }).resume();
}

async function readText(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function filesystemRoutes(r: Router, b: FilesystemBackend): void {
  // HEAD before GET: the router serves HEAD with the first matching route
  r.head('/containers/:id/archive', async (c) => {
    const stat = await b.statPath(c.params[0]!, c.query.get('path') ?? '');
    c.res!.writeHead(200, { ...commonHeaders, [STAT_HEADER]: statHeader(stat) });
    c.res!.end();
  });
  r.get('/containers/:id/archive', async (c) => {
    await b.getArchive(c.params[0]!, c.query.get('path') ?? '', (stat) => {
      const res = c.res!;
      res.writeHead(200, { ...commonHeaders, 'Content-Type': 'application/x-tar', [STAT_HEADER]: statHeader(stat) });
      res.flushHeaders();
      return res;
    });
  });
  r.put('/containers/:id/archive', async (c) => {
    const body = c.bodyStream();
    try {
      await b.putArchive(c.params[0]!, c.query.get('path') ?? '', body, {
        noOverwriteDirNonDir: parseBool(c.query.get('noOverwriteDirNonDir')),
        copyUIDGID: parseBool(c.query.get('copyUIDGID')),
      });
    } catch (e) {
      drain(body);
      throw e;
    }
    c.send(200);
  });
  r.get('/containers/:id/changes', (c) => c.send(200, b.changes(c.params[0]!)));
  r.get('/containers/:id/export', async (c) => {
    await b.export(c.params[0]!, () => c.stream(200, 'application/octet-stream'));
  });
  r.post('/commit', async (c) => {
    const q = c.query;
    const text = (await readText(c.bodyStream())).trim();
    let config: unknown;
    if (text && text !== 'null') {
      try {
        config = JSON.parse(text) as unknown;
      } catch (e) {
        throw invalid(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const pauseQ = q.get('pause');
    const res = await b.commit(q.get('container') ?? '', {
      ...(q.get('repo') ? { repo: q.get('repo')! } : {}),
      ...(q.get('tag') ? { tag: q.get('tag')! } : {}),
      comment: q.get('comment') ?? '',
      author: q.get('author') ?? '',
      changes: q.getAll('changes').flatMap((s) => s.split('\n')).filter((s) => s.trim()),
      pause: pauseQ === null || pauseQ === '' ? true : parseBool(pauseQ),
      ...(config !== undefined ? { config } : {}),
    });
    c.send(201, res);
  });
}
