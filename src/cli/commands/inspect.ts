// docker inspect (any object type), container inspect, image inspect.
import { ApiError, isNotFound } from '../../client/errors';
import type { InspectResult } from '../../client/client';
import { INSPECT_FORMAT_FLAG, PROG, StatusError, type Cli, type CommandSpec } from '../cli';
import { Template, TemplateError } from '../template';

const ALL_TYPES = ['config', 'container', 'image', 'network', 'node', 'plugin', 'secret', 'service', 'task', 'volume'];

/** encoding/json.Indent over raw JSON text (keeps the daemon's key order and number spelling). */
export function indentJSON(src: string, indent = '    '): string {
  let out = '';
  let depth = 0;
  let inStr = false;
  let needIndent = false;
  const nl = (): string => '\n' + indent.repeat(depth);
  let i = 0;
  while (i < src.length && ' \t\r\n'.includes(src[i]!)) i++;
  for (; i < src.length; i++) {
    const c = src[i]!;
    if (inStr) {
      out += c;
      if (c === '\\') {
        out += src[++i] ?? '';
      } else if (c === '"') inStr = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== ']' && c !== '}') {
      needIndent = false;
      depth++;
      out += nl();
    }
    switch (c) {
      case '"':
        inStr = true;
        out += c;
        break;
      case '{':
      case '[':
        out += c;
        needIndent = true;
        break;
      case ',':
        out += ',' + nl();
        break;
      case ':':
        out += ': ';
        break;
      case '}':
      case ']':
        if (needIndent) needIndent = false;
        else {
          depth--;
          out += nl();
        }
        out += c;
        break;
      default:
        out += c;
    }
  }
  return out;
}

/** encoding/json.Compact */
export function compactJSON(src: string): string {
  let out = '';
  let inStr = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (inStr) {
      out += c;
      if (c === '\\') out += src[++i] ?? '';
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    out += c;
  }
  return out;
}

type Getter = (ref: string) => Promise<InspectResult<unknown>>;

/** inspect.Inspect: indented JSON by default, compact for "json", else one template result per object. */
export async function runInspect(cli: Cli, refs: string[], format: string, get: Getter): Promise<void> {
  let tmpl: Template | undefined;
  if (format !== '' && format !== 'json') {
    try {
      tmpl = Template.parse(format);
    } catch (e) {
      throw new StatusError(64, `template parsing error: ${(e as Error).message}`);
    }
  }
  const raws: string[] = [];
  const errs: string[] = [];
  let buffer = '';
  for (const ref of refs) {
    let r: InspectResult<unknown>;
    try {
      r = await get(ref);
    } catch (e) {
      errs.push((e as Error).message);
      continue;
    }
    const raw = r.raw.toString('utf8').trim();
    if (!tmpl) {
      raws.push(raw);
      continue;
    }
    try {
      buffer += tmpl.execute(JSON.parse(raw)) + '\n';
    } catch (e) {
      if (e instanceof TemplateError) errs.push(`template parsing error: ${e.message}`);
      else throw e;
    }
  }
  if (tmpl) cli.out(buffer === '' ? '\n' : buffer);
  else if (raws.length === 0) cli.out('[]\n');
  else {
    const arr = `[${raws.join(',')}]`;
    cli.out((format === 'json' ? compactJSON(arr) : indentJSON(arr)) + '\n');
  }
  if (errs.length) throw new StatusError(1, errs.join('\n'));
}

function skippable(e: unknown): boolean {
  if (isNotFound(e)) return true;
  if (e instanceof ApiError && e.status === 501) return true;
  const m = e instanceof Error ? e.message : '';
  return m.includes('not supported') || m.includes('invalid reference format');
}

function inspectAll(cli: Cli, size: boolean, typeConstraint: string): Getter {
  const c = cli.client;
  const kinds: { type: string; sizeOk?: boolean; swarm?: boolean; get?: Getter }[] = [
    { type: 'container', sizeOk: true, get: (r) => c.containerInspectRaw(r, size) },
    { type: 'image', get: (r) => c.imageInspectRaw(r) },
    { type: 'network', get: (r) => c.networkInspectRaw(r) },
    { type: 'volume', get: (r) => c.volumeInspectRaw(r) },
    { type: 'service', swarm: true },
    { type: 'task', swarm: true },
    { type: 'node', swarm: true },
    { type: 'plugin', get: (r) => c.pluginInspectRaw(r) },
    { type: 'secret', swarm: true },
    { type: 'config', swarm: true },
  ];
  let swarmChecked = false;
  return async (ref) => {
    for (const k of kinds) {
      if (typeConstraint && k.type !== typeConstraint) continue;
      if (k.swarm) {
        if (!typeConstraint && !swarmChecked) {
          swarmChecked = true;
          // like the docker CLI: one /info to learn whether swarm objects can exist
          await c.info().catch((e: unknown) => cli.err(`${(e as Error).message}\n`));
        }
        if (typeConstraint) throw new Error(`Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`);
        continue;
      }
      try {
        const r = await k.get!(ref);
        if (size && !k.sizeOk) cli.err(`WARNING: --size ignored for ${k.type}\n`);
        return r;
      } catch (e) {
        if (!typeConstraint && skippable(e)) continue;
        throw e;
      }
    }
    throw new Error(`Error: No such object: ${ref}`);
  };
}

export const inspect: CommandSpec = {
  use: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  short: 'Return low-level information on Docker objects',
  args: { min: 1 },
  flags: [
    INSPECT_FORMAT_FLAG,
    { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes if the type is container' },
    { name: 'type', type: 'string', help: 'Only inspect objects of the given type' },
  ],
  async run(cli, fl, args) {
    const type = fl.string('type');
    if (fl.isSet('type') && type === '') throw new Error(`type is empty: must be one of "${ALL_TYPES.join('", "')}"`);
    if (type && !ALL_TYPES.includes(type)) throw new Error(`unknown type: "${type}": must be one of "${ALL_TYPES.join('", "')}"`);
    await runInspect(cli, args, fl.string('format'), inspectAll(cli, fl.bool('size'), type));
  },
};

export const containerInspect: CommandSpec = {
  use: 'inspect [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Display detailed information on one or more containers',
  aliases: [`${PROG} container inspect`],
  args: { min: 1 },
  flags: [
    INSPECT_FORMAT_FLAG,
    { name: 'size', short: 's', type: 'bool', help: 'Display total file sizes' },
  ],
  async run(cli, fl, args) {
    const size = fl.bool('size');
    await runInspect(cli, args, fl.string('format'), (r) => cli.client.containerInspectRaw(r, size));
  },
};

export const imageInspect: CommandSpec = {
  use: 'inspect [OPTIONS] IMAGE [IMAGE...]',
  short: 'Display detailed information on one or more images',
  aliases: [`${PROG} image inspect`],
  args: { min: 1 },
  flags: [INSPECT_FORMAT_FLAG, { name: 'platform', type: 'string', help: 'Inspect a specific platform of the multi-platform image.' }],
  async run(cli, fl, args) {
    await runInspect(cli, args, fl.string('format'), (r) => cli.client.imageInspectRaw(r));
  },
};
