// jsonmessage.DisplayJSONMessagesStream, non-terminal flavour: one line per
// status message, progress bars skipped, `stream` text passed through, and an
// error message ends the stream with an error (exit code from errorDetail.code).
import type { JSONMessage } from '../client/types';
import { StatusError } from './cli';

export class JSONStreamError extends StatusError {}

export async function displayJSONStream(
  body: NodeJS.ReadableStream,
  write: (s: string) => void,
  onAux?: (aux: unknown) => void,
): Promise<void> {
  let buf = '';
  let failure: JSONStreamError | undefined;
  const handle = (line: string): void => {
    if (failure || line.trim() === '') return;
    let m: JSONMessage;
    try {
      m = JSON.parse(line) as JSONMessage;
    } catch {
      write(line + '\n');
      return;
    }
    if (m.errorDetail || m.error) {
      const msg = m.errorDetail?.message ?? m.error ?? '';
      const code = m.errorDetail?.code;
      failure = new JSONStreamError(code && code > 0 ? code : 1, msg);
      return;
    }
    if (m.aux !== undefined && onAux) {
      onAux(m.aux);
      return;
    }
    const progress = m.progressDetail && ((m.progressDetail.current ?? 0) > 0 || (m.progressDetail.total ?? 0) > 0);
    if (progress && m.progress) return; // progress bars only on terminals
    let s = '';
    if (m.id) s += `${m.id}: `;
    if (m.from) s += `(from ${m.from}) `;
    if (m.stream !== undefined && m.stream !== '') {
      write(s + m.stream);
      return;
    }
    write(s + (m.status ?? '') + '\n');
  };
  await new Promise<void>((resolve, reject) => {
    body.on('data', (c: Buffer | string) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        handle(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    body.on('end', () => {
      if (buf) handle(buf);
      resolve();
    });
    body.on('error', reject);
  });
  if (failure) throw failure;
}
