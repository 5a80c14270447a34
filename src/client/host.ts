// Daemon address parsing: unix:///path, tcp://host:port, http://host:port,
// or a bare absolute socket path.

export type HostSpec =
  | { kind: 'unix'; path: string; raw: string }
  | { kind: 'tcp'; host: string; port: number; raw: string };

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/** defaultPort: 2375, or 2376 with TLS, as the docker CLI. */
export function parseHost(input: string, defaultPort = 2375): HostSpec {
  const raw = input.trim();
  if (raw === '') return parseHost(DEFAULT_HOST, defaultPort);
  if (raw.startsWith('unix://')) {
    const path = raw.slice('unix://'.length);
    if (!path) throw new Error(`invalid bind address (${raw}): path is empty`);
    return { kind: 'unix', path, raw };
  }
  if (raw.startsWith('/')) return { kind: 'unix', path: raw, raw: `unix://${raw}` };
  let rest: string;
  if (raw.startsWith('tcp://')) rest = raw.slice(6);
  else if (raw.startsWith('http://')) rest = raw.slice(7);
  else if (/^[a-z]+:\/\//i.test(raw)) throw new Error(`Invalid bind address format: ${raw}`);
  else rest = raw;
  rest = rest.replace(/\/+$/, '');
  let host = rest;
  let port = defaultPort;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]*)(?::(\d+))?$/.exec(rest);
  if (!m) throw new Error(`Invalid bind address format: ${raw}`);
  host = m[1] || '127.0.0.1';
  if (m[2] !== undefined) port = Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`invalid bind address (${raw}): invalid port`);
  return { kind: 'tcp', host, port, raw: `tcp://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/** Resolution order: explicit -H, BERTH_HOST, DOCKER_HOST, default socket. */
export function resolveHost(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.BERTH_HOST) return env.BERTH_HOST;
  if (env.DOCKER_HOST) return env.DOCKER_HOST;
  return DEFAULT_HOST;
}
