// images, history, tag, rmi, import, image prune, pull
import { createReadStream } from 'node:fs';
import { isNotFound } from '../../client/errors';
import { FILTER_FLAG, FORMAT_FLAG, parseFilterFlags, PROG, StatusError, type CommandSpec } from '../cli';
import { headerContext, historyContext, historyFormat, HISTORY_HEADER, IMAGE_HEADER, imageFormat, imageRows, renderRows, TABLE } from '../formatter';
import { displayJSONStream } from '../jsonstream';
import { parseNormalizedNamed, referenceString, tagNameOnly, type Reference } from '../reference';
import { humanSize } from '../units';
import { confirm } from './lifecycle';
import { displayProgressStream, registryAuthFor } from './registry';

export const images: CommandSpec = {
  use: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  short: 'List images',
  aliases: [`${PROG} image ls`, `${PROG} image list`, `${PROG} images`],
  args: { max: 1 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Show all images (default hides intermediate images)' },
    { name: 'digests', type: 'bool', help: 'Show digests' },
    FILTER_FLAG,
    FORMAT_FLAG,
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
    { name: 'tree', type: 'bool', hidden: true, help: 'List multi-platform images as a tree (EXPERIMENTAL)' },
  ],
  async run(cli, fl, args) {
    const filters = parseFilterFlags(fl.list('filter'));
    if (args[0]) (filters.reference ??= []).push(args[0]);
    const list = await cli.client.imageList({ all: fl.bool('all'), filters });
    const source = fl.string('format') || TABLE;
    const quiet = fl.bool('quiet');
    const digest = fl.bool('digests');
    const format = imageFormat(source, quiet, digest);
    const rows = imageRows(list, { trunc: !fl.bool('no-trunc'), digest, format });
    cli.out(renderRows(format, headerContext(IMAGE_HEADER), rows));
  },
};

export const history: CommandSpec = {
  use: 'history [OPTIONS] IMAGE',
  short: 'Show the history of an image',
  aliases: [`${PROG} image history`, `${PROG} history`],
  args: { exact: 1 },
  flags: [
    FORMAT_FLAG,
    { name: 'human', short: 'H', type: 'bool', default: true, help: 'Print sizes and dates in human readable format' },
    { name: 'no-trunc', type: 'bool', help: "Don't truncate output" },
    { name: 'platform', type: 'string', help: 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Only show image IDs' },
  ],
  async run(cli, fl, args) {
    const items = await cli.client.imageHistory(args[0]!);
    const human = fl.bool('human');
    const format = historyFormat(fl.string('format') || TABLE, fl.bool('quiet'), human);
    const trunc = !fl.bool('no-trunc');
    const now = Date.now();
    cli.out(renderRows(format, headerContext(HISTORY_HEADER), items.map((h) => historyContext(h, trunc, human, now))));
  },
};

function parseRef(s: string): Reference {
  try {
    return parseNormalizedNamed(s);
  } catch (e) {
    throw new Error(`Error parsing reference: "${s}" is not a valid repository/tag: ${(e as Error).message}`);
  }
}

export const tag: CommandSpec = {
  use: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliases: [`${PROG} image tag`, `${PROG} tag`],
  args: { exact: 2 },
  flags: [],
  async run(cli, _fl, args) {
    const [source, target] = args as [string, string];
    if (!/^(sha256:)?[a-f0-9]{64}$/.test(source) && !/^[a-f0-9]{1,63}$/.test(source)) parseRef(source);
    const ref = parseRef(target);
    if (ref.digest !== undefined) throw new Error('refusing to create a tag with a digest reference');
    const t = tagNameOnly(ref);
    await cli.client.imageTag(source, `${t.domain}/${t.path}`, t.tag ?? 'latest');
  },
};

export const rmi: CommandSpec = {
  use: 'rmi [OPTIONS] IMAGE [IMAGE...]',
  short: 'Remove one or more images',
  aliases: [`${PROG} image rm`, `${PROG} image remove`, `${PROG} rmi`],
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', type: 'bool', help: 'Force removal of the image' },
    { name: 'no-prune', type: 'bool', help: 'Do not delete untagged parents' },
    { name: 'platform', type: 'list', valueName: 'strings', help: 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")' },
  ],
  async run(cli, fl, args) {
    const force = fl.bool('force');
    let fatal = false;
    const errs: string[] = [];
    for (const img of args) {
      try {
        const dels = (await cli.client.imageRemove(img, { force, noprune: fl.bool('no-prune') })) ?? [];
        let out = '';
        for (const d of dels) out += d.Deleted ? `Deleted: ${d.Deleted}\n` : `Untagged: ${d.Untagged ?? ''}\n`;
        cli.out(out);
      } catch (e) {
        if (!isNotFound(e)) fatal = true;
        errs.push((e as Error).message);
      }
    }
    if (errs.length) {
      if (!force || fatal) throw new StatusError(1, errs.join('\n'));
      cli.err(errs.join('\n') + '\n');
    }
  },
};

export const importImage: CommandSpec = {
  use: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  short: 'Import the contents from a tarball to create a filesystem image',
  aliases: [`${PROG} image import`, `${PROG} import`],
  args: { min: 1 },
  flags: [
    { name: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', type: 'string', help: 'Set commit message for imported image' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
  ],
  async run(cli, fl, args) {
    const source = args[0]!;
    const ref = args[1] ?? '';
    if (ref) parseRef(ref);
    let body: NodeJS.ReadableStream | undefined;
    let fromSrc = '-';
    if (source === '-') body = cli.streams.in;
    else if (source.startsWith('http://') || source.startsWith('https://')) fromSrc = source;
    else {
      const s = createReadStream(source);
      await new Promise<void>((resolve, reject) => {
        s.once('open', () => resolve());
        s.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`open ${source}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`)));
      });
      body = s;
    }
    const res = await cli.client.imageImport(body, {
      fromSrc, repo: ref, message: fl.string('message'), changes: fl.list('change'), platform: fl.string('platform'),
    });
    await displayJSONStream(res.body, (s) => cli.out(s));
  },
};

export const imagePrune: CommandSpec = {
  use: 'prune [OPTIONS]',
  short: 'Remove unused images',
  args: { exact: 0 },
  flags: [
    { name: 'all', short: 'a', type: 'bool', help: 'Remove all unused images, not just dangling ones' },
    { ...FILTER_FLAG, short: undefined, help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
  ],
  async run(cli, fl) {
    const all = fl.bool('all');
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?'
      : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
    if (!fl.bool('force') && !(await confirm(cli, warning))) throw new StatusError(1, '');
    const filters = parseFilterFlags(fl.list('filter'));
    filters.dangling = [all ? 'false' : 'true'];
    const r = await cli.client.imagesPrune(filters);
    const dels = (r.ImagesDeleted as { Untagged?: string; Deleted?: string }[] | null) ?? [];
    let out = '';
    if (dels.length) {
      out += 'Deleted Images:\n';
      for (const d of dels) out += d.Untagged ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted ?? ''}\n`;
      out += '\n';
    }
    out += `Total reclaimed space: ${humanSize(Number(r.SpaceReclaimed ?? 0))}\n`;
    cli.out(out);
  },
};

export const pull: CommandSpec = {
  use: 'pull [OPTIONS] NAME[:TAG|@DIGEST]',
  short: 'Download an image from a registry',
  aliases: [`${PROG} image pull`, `${PROG} pull`],
  args: { exact: 1 },
  flags: [
    { name: 'all-tags', short: 'a', type: 'bool', help: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', type: 'bool', default: true, help: 'Skip image verification' },
    { name: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
  ],
  async run(cli, fl, args) {
    // docker pull reports a bad reference as is (only `tag` adds "Error parsing reference").
    let ref = parseNormalizedNamed(args[0]!);
    if (fl.bool('all-tags') && ref.tag !== undefined) throw new Error('tag can\'t be used with --all-tags/-a');
    if (!fl.bool('all-tags') && ref.tag === undefined && ref.digest === undefined) {
      ref = tagNameOnly(ref);
      if (!fl.bool('quiet')) cli.out(`Using default tag: ${ref.tag}\n`);
    }
    const res = await cli.client.imagePull(`${ref.domain}/${ref.path}`, ref.digest ?? ref.tag ?? '', { platform: fl.string('platform'), auth: registryAuthFor(ref.domain + '/' + ref.path) });
    await displayProgressStream(cli, res.body, fl.bool('quiet'));
    cli.out(`${fl.bool('all-tags') ? `${ref.domain}/${ref.path}` : referenceString(ref)}\n`);
  },
};


