// Table rendering, humanised durations and sizes, references, timestamps.
// The table goldens were produced by the docker CLI 28.2 against the same data.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerSummary, ImageSummary } from '../../src/client/types';
import {
  CONTAINER_HEADER, containerContext, containerFormat, displayablePorts, ellipsis, goQuote, headerContext, historyContext, historyFormat,
  HISTORY_HEADER, IMAGE_HEADER, imageFormat, imageRows, renderRows, templateString,
} from '../../src/cli/formatter';
import { familiarName, familiarString, parseNormalizedNamed, tagNameOnly, truncateId } from '../../src/cli/reference';
import { displayWidth, tabulate, TabWriter } from '../../src/cli/tabwriter';
import { getTimestamp } from '../../src/cli/timestamp';
import { bytesSize, humanDuration, humanSize, humanSizeWithPrecision, parseSize } from '../../src/cli/units';
import { naturalLess, statsEntry } from '../../src/cli/commands/misc';
import { compactJSON, indentJSON } from '../../src/cli/commands/inspect';
import { prettyEvent } from '../../src/cli/commands/system';

const NOW = 1_800_000_000_000;
const nowS = NOW / 1000;

const containers: ContainerSummary[] = [
  {
    Id: 'a1b2c3d4e5f6' + '0'.repeat(52), Names: ['/web'], Image: 'nginx:latest', ImageID: 'sha256:' + '1'.repeat(64),
    Command: "sh -c 'i=0; while :; do echo line $i; i=$((i+1)); sleep 1; done'", Created: nowS - 200, State: 'running', Status: 'Up About a minute',
    Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 18080, Type: 'tcp' }, { IP: '::', PrivatePort: 80, PublicPort: 18080, Type: 'tcp' }, { PrivatePort: 443, Type: 'tcp' }, { PrivatePort: 444, Type: 'tcp' }],
    Labels: { 'com.example.team': 'web', tier: 'front' }, SizeRw: 12, SizeRootFs: 1984172,
    NetworkSettings: { Networks: { bridge: {} } },
    Mounts: [{ Type: 'volume', Name: 'averyveryverylongvolumename', Source: '/var/lib/x', Destination: '/data', Driver: 'local' }],
  },
  {
    Id: 'f00dfeedbeef' + '1'.repeat(52), Names: ['/db', '/web/db'], Image: 'sha256:' + '2'.repeat(64), ImageID: 'sha256:' + '2'.repeat(64),
    Command: 'true', Created: nowS - 3 * 3600, State: 'exited', Status: 'Exited (0) 2 hours ago', Ports: [], Labels: {},
    NetworkSettings: { Networks: {} }, Mounts: [],
  },
];

const images: ImageSummary[] = [
  { Containers: -1, Created: nowS - 86400 * 20, Id: 'sha256:' + '3'.repeat(64), RepoDigests: ['busybox@sha256:' + '4'.repeat(64)], RepoTags: ['busybox:latest', 'busybox:1.36'], SharedSize: -1, Size: 4261550 },
  { Containers: -1, Created: nowS - 7200, Id: 'sha256:' + '5'.repeat(64), RepoDigests: [], RepoTags: ['127.0.0.1:5000/ns/app:v1'], SharedSize: -1, Size: 1234567890 },
  { Containers: -1, Created: nowS - 150, Id: 'sha256:' + '6'.repeat(64), RepoDigests: null, RepoTags: null, SharedSize: -1, Size: 0 },
];

function ps(flags: { trunc?: boolean; size?: boolean; format?: string; quiet?: boolean } = {}): string {
  const format = containerFormat(flags.format ?? '', flags.quiet ?? false, flags.size ?? false);
  return renderRows(format, headerContext(CONTAINER_HEADER), containers.map((c) => containerContext(c, { trunc: flags.trunc ?? true, now: NOW })));
}

function imgs(opts: { digest?: boolean; trunc?: boolean; format?: string; quiet?: boolean } = {}): string {
  const format = imageFormat(opts.format ?? 'table', opts.quiet ?? false, opts.digest ?? false);
  return renderRows(format, headerContext(IMAGE_HEADER), imageRows(images, { trunc: opts.trunc ?? true, digest: opts.digest ?? false, format, now: NOW }));
}

describe('docker ps table', () => {
  it('default columns', () => {
    assert.equal(ps(), [
      'CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS                   PORTS                                                    NAMES',
      'a1b2c3d4e5f6   nginx:latest   "sh -c \'i=0; while :…"   3 minutes ago   Up About a minute        443-444/tcp, 0.0.0.0:18080->80/tcp, [::]:18080->80/tcp   web',
      'f00dfeedbeef   222222222222   "true"                   3 hours ago     Exited (0) 2 hours ago                                                            db',
      '',
    ].join('\n'));
  });

  it('-s adds SIZE', () => {
    const out = ps({ size: true }).split('\n');
    assert.equal(out[0], 'CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS                   PORTS                                                    NAMES     SIZE');
    assert.ok(out[1]!.endsWith('   web       12B (virtual 1.98MB)'));
    assert.ok(out[2]!.endsWith('   db        0B'));
  });

  it('--no-trunc shows full IDs, images, commands and all names', () => {
    const out = ps({ trunc: false }).split('\n');
    assert.equal(out[1], 'a1b2c3d4e5f60000000000000000000000000000000000000000000000000000   nginx:latest                                                              "sh -c \'i=0; while :; do echo line $i; i=$((i+1)); sleep 1; done\'"   3 minutes ago   Up About a minute        443-444/tcp, 0.0.0.0:18080->80/tcp, [::]:18080->80/tcp   web');
    assert.ok(out[2]!.endsWith('db,web/db'));
  });

  it('-q and custom table/non-table formats', () => {
    assert.equal(ps({ quiet: true }), 'a1b2c3d4e5f6\nf00dfeedbeef\n');
    assert.equal(ps({ format: 'table {{.ID}}\\t{{.Mounts}}\\t{{.Labels}}\\t{{.Networks}}\\t{{.LocalVolumes}}' }), [
      'CONTAINER ID   MOUNTS            LABELS                            NETWORKS   LOCAL VOLUMES',
      'a1b2c3d4e5f6   averyveryveryl…   com.example.team=web,tier=front   bridge     1',
      'f00dfeedbeef                                                                  0',
      '',
    ].join('\n'));
    assert.equal(ps({ format: '{{.Names}} {{.State}} {{.Label "tier"}}' }), 'web running front\ndb exited \n');
    assert.equal(ps({ format: 'table {{.Names}}' }), 'NAMES\nweb\ndb\n');
  });

  it('--format json is each row as sorted-key JSON with Go HTML escaping', () => {
    const line = ps({ format: 'json' }).split('\n')[0]!;
    assert.ok(line.startsWith('{"Command":"\\"sh -c \'i=0; while :…\\"","CreatedAt":"'), line);
    assert.ok(line.includes('"Ports":"443-444/tcp, 0.0.0.0:18080-\\u003e80/tcp, [::]:18080-\\u003e80/tcp","RunningFor":"3 minutes ago","Size":"12B (virtual 1.98MB)","State":"running","Status":"Up About a minute"}'));
    assert.ok(line.includes('"Platform":null'));
  });

  it('template errors are reported like docker', () => {
    assert.throws(() => ps({ format: '{{.Nope}}' }), /template parsing error: template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type \*formatter.ContainerContext/);
    assert.throws(() => ps({ format: '{{json.}}' }), /template parsing error: template: :1: unexpected <.> in operand/);
  });
});

describe('docker images table', () => {
  it('default columns, one row per tag, <none> for dangling', () => {
    assert.equal(imgs(), [
      'REPOSITORY              TAG       IMAGE ID       CREATED         SIZE',
      'busybox                 latest    333333333333   2 weeks ago     4.26MB',
      'busybox                 1.36      333333333333   2 weeks ago     4.26MB',
      '127.0.0.1:5000/ns/app   v1        555555555555   2 hours ago     1.23GB',
      '<none>                  <none>    666666666666   2 minutes ago   0B',
      '',
    ].join('\n'));
  });

  it('--digests', () => {
    assert.equal(imgs({ digest: true }).split('\n')[1], 'busybox                 latest    sha256:4444444444444444444444444444444444444444444444444444444444444444   333333333333   2 weeks ago     4.26MB');
  });

  it('-q, --no-trunc, --format', () => {
    assert.equal(imgs({ quiet: true }), '333333333333\n333333333333\n555555555555\n666666666666\n');
    assert.ok(imgs({ trunc: false }).includes('sha256:' + '3'.repeat(64)));
    assert.equal(imgs({ format: '{{.Repository}}:{{.Tag}}' }), 'busybox:latest\nbusybox:1.36\n127.0.0.1:5000/ns/app:v1\n<none>:<none>\n');
  });
});

describe('history table', () => {
  it('renders CREATED BY truncated to 45 columns', () => {
    const rows = [{ Id: 'sha256:' + '7'.repeat(64), Created: nowS - 7200, CreatedBy: '/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789abcdef in / ', Tags: ['busybox:latest'], Size: 4261550, Comment: '' },
      { Id: '<missing>', Created: 0, CreatedBy: 'CMD ["sh"]', Tags: null, Size: 0, Comment: 'c' }];
    const out = renderRows(historyFormat('table', false, true), headerContext(HISTORY_HEADER), rows.map((h) => historyContext(h, true, true, NOW)));
    assert.equal(out, [
      'IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT',
      '777777777777   2 hours ago   /bin/sh -c #(nop) ADD file:0123456789abcdef0…   4.26MB    ',
      '<missing>      N/A           CMD ["sh"]                                      0B        c',
      '',
    ].join('\n'));
  });
});

describe('tabwriter', () => {
  it('pads cells to the widest plus padding, with a minimum width', () => {
    assert.equal(tabulate('A\tBB\tC\nAAAA\tB\tC\n'), 'A         BB        C\nAAAA      B         C\n');
    assert.equal(tabulate('LONGER-THAN-TEN\tx\ny\tz\n'), 'LONGER-THAN-TEN   x\ny                 z\n');
    assert.equal(tabulate('a\tb\n', 1, 1), 'a b\n');
    assert.equal(tabulate('only\n'), 'only\n');
  });

  it('a line without tabs ends a column block', () => {
    assert.equal(tabulate('x\ty\nheader\nlonger-cell\tz\n', 1, 1), 'x y\nheader\nlonger-cell z\n');
  });

  it('trailing cells are not padded; empty cells are', () => {
    const tw = new TabWriter(1, 1, 2);
    tw.write('a\t\tc\nbbb\tx\t\n');
    assert.equal(tw.flush(), 'a       c\nbbb  x  \n');
  });

  it('display width counts wide characters as two columns', () => {
    assert.equal(displayWidth('abc'), 3);
    assert.equal(displayWidth('…'), 1);
    assert.equal(displayWidth('日本'), 4);
    assert.equal(tabulate('日本\tx\nab\ty\n', 1, 1), '日本 x\nab   y\n');
  });
});

describe('go-units', () => {
  it('HumanDuration (go-units test table)', () => {
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    const day = 24 * h;
    const week = 7 * day;
    const month = 30 * day;
    const year = 365 * day;
    const cases: [number, string][] = [
      [450, 'Less than a second'], [1 * s, '1 second'], [45 * s, '45 seconds'], [59 * s, '59 seconds'], [60 * s, 'About a minute'],
      [3 * m, '3 minutes'], [35 * m + 40 * s, '35 minutes'], [59 * m, '59 minutes'], [1 * h, 'About an hour'], [1 * h + 29 * m, 'About an hour'],
      [1 * h + 31 * m, '2 hours'], [3 * h + 29 * m, '3 hours'], [3 * h + 31 * m, '4 hours'], [24 * h, '24 hours'], [day + 12 * h, '36 hours'],
      [2 * day, '2 days'], [7 * day, '7 days'], [13 * day + 5 * h, '13 days'], [2 * week, '2 weeks'], [2 * week + 4 * day, '2 weeks'],
      [4 * week + 3 * day, '4 weeks'], [1 * month, '4 weeks'], [1 * month + 2 * week, '6 weeks'], [2 * month, '2 months'], [3 * month + 1 * week, '3 months'],
      [5 * month + 2 * week, '5 months'], [13 * month, '13 months'], [23 * month, '23 months'], [24 * month, '24 months'], [24 * month + 2 * week, '2 years'],
      [3 * year + 2 * month, '3 years'],
    ];
    for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}ms`);
  });

  it('HumanSize / HumanSizeWithPrecision / BytesSize (go-units test table)', () => {
    assert.equal(humanSize(1000), '1kB');
    assert.equal(humanSize(1024), '1.024kB');
    assert.equal(humanSize(1000000), '1MB');
    assert.equal(humanSize(1048576), '1.049MB');
    assert.equal(humanSize(2 * 1000 * 1000), '2MB');
    assert.equal(humanSize(3.42 * 1e9), '3.42GB');
    assert.equal(humanSize(5.372 * 1e12), '5.372TB');
    assert.equal(humanSize(2.22 * 1e15), '2.22PB');
    assert.equal(humanSize(10000000000000 * 1e15), '1e+04YB');
    assert.equal(humanSizeWithPrecision(1984172, 3), '1.98MB');
    assert.equal(humanSizeWithPrecision(0, 3), '0B');
    assert.equal(humanSizeWithPrecision(999, 3), '999B');
    assert.equal(bytesSize(1024), '1KiB');
    assert.equal(bytesSize(1024 * 1024), '1MiB');
    assert.equal(bytesSize(3.42 * 1024 ** 3), '3.42GiB');
    assert.equal(bytesSize(5.372 * 1024 ** 4), '5.372TiB');
    assert.equal(bytesSize(1024 ** 5 * 1024 ** 5), '1.049e+06YiB');
  });

  it('RAMInBytes', () => {
    assert.equal(parseSize('32'), 32);
    assert.equal(parseSize('32b'), 32);
    assert.equal(parseSize('32k'), 32 * 1024);
    assert.equal(parseSize('32Kib'), 32 * 1024);
    assert.equal(parseSize('32Mb'), 32 * 1024 ** 2);
    assert.equal(parseSize('32PB'), 32 * 1024 ** 5);
    assert.equal(parseSize('32.3 mb'), Math.trunc(32.3 * 1024 ** 2));
    for (const bad of ['', 'hello', '-32', ' 32 ', '32m b', '32bm']) assert.throws(() => parseSize(bad), bad);
  });
});

describe('helpers', () => {
  it('DisplayablePorts groups ranges and lists host mappings last', () => {
    assert.equal(displayablePorts([{ PrivatePort: 9090, Type: 'tcp' }, { PrivatePort: 9091, Type: 'tcp' }, { PrivatePort: 9092, Type: 'tcp' }, { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 80, Type: 'tcp' }, { IP: '0.0.0.0', PrivatePort: 81, PublicPort: 81, Type: 'tcp' }, { IP: '1.2.3.4', PrivatePort: 53, PublicPort: 5353, Type: 'udp' }]),
      '0.0.0.0:80-81->80-81/tcp, 9090-9092/tcp, 1.2.3.4:5353->53/udp');
    assert.equal(displayablePorts(null), '');
  });

  it('ellipsis, quote, truncateId', () => {
    assert.equal(ellipsis('abcdef', 4), 'abc…');
    assert.equal(ellipsis('abc', 4), 'abc');
    assert.equal(goQuote('a"b\n'), '"a\\"b\\n"');
    assert.equal(truncateId('sha256:0123456789abcdef'), '0123456789ab');
  });

  it('templateString', () => {
    assert.equal(templateString('table {{.ID}}\\t{{.Names}}'), '{{.ID}}\t{{.Names}}');
    assert.equal(templateString('json'), '{{json .}}');
    assert.equal(templateString('  {{.ID}}  '), '{{.ID}}');
  });

  it('image references normalise like distribution/reference', () => {
    const r = parseNormalizedNamed('busybox');
    assert.deepEqual(r, { domain: 'docker.io', path: 'library/busybox' });
    assert.equal(familiarString(tagNameOnly(r)), 'busybox:latest');
    assert.deepEqual(parseNormalizedNamed('localhost:5000/ns/app:v1'), { domain: 'localhost:5000', path: 'ns/app', tag: 'v1' });
    assert.equal(familiarName(parseNormalizedNamed('docker.io/library/busybox')), 'busybox');
    assert.equal(familiarName(parseNormalizedNamed('user/app')), 'user/app');
    assert.throws(() => parseNormalizedNamed('Busybox'), /must be lowercase/);
    assert.throws(() => parseNormalizedNamed('a b'), /invalid reference format/);
  });

  it('GetTimestamp', () => {
    const now = Date.UTC(2024, 0, 2, 3, 4, 5);
    assert.equal(getTimestamp('10m', now), String(now / 1000 - 600));
    assert.equal(getTimestamp('1700000000', now), '1700000000');
    assert.equal(getTimestamp('1700000000.5', now), '1700000000.5');
    assert.equal(getTimestamp('2024-01-01T00:00:00Z', now), '1704067200.000000000');
    assert.equal(getTimestamp('2024-01-01T00:00:00.25+01:00', now), '1704063600.250000000');
    assert.throws(() => getTimestamp('yesterday', now), /failed to parse value as time or duration/);
  });

  it('natural sort for `port`', () => {
    assert.ok(naturalLess('80/tcp -> 0.0.0.0:8080', '443/tcp -> 0.0.0.0:8443') === true);
    assert.ok(naturalLess('9/tcp', '10/tcp'));
  });

  it('stats entries compute CPU and memory like the docker CLI', () => {
    const e = statsEntry('x', {
      id: 'abc', name: '/x',
      cpu_stats: { cpu_usage: { total_usage: 2000 }, system_cpu_usage: 20000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1000 }, system_cpu_usage: 10000 },
      memory_stats: { usage: 1000, limit: 4000, stats: { inactive_file: 200 } },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 20 } },
      blkio_stats: { io_service_bytes_recursive: [{ op: 'Read', value: 5 }, { op: 'write', value: 6 }] },
      pids_stats: { current: 3 },
    });
    assert.equal(e.cpu, 20);
    assert.equal(e.mem, 800);
    assert.equal(e.memPerc, 20);
    assert.deepEqual([e.rx, e.tx, e.blkRead, e.blkWrite, e.pids], [10, 20, 5, 6, 3]);
  });

  it('JSON indent/compact keep raw text (order, numbers)', () => {
    const raw = '[{"b":1,"a":[],"c":{},"d":[1,2],"e":"x, y: {z}","n":12345678901234567890}]';
    assert.equal(indentJSON(raw), '[\n    {\n        "b": 1,\n        "a": [],\n        "c": {},\n        "d": [\n            1,\n            2\n        ],\n        "e": "x, y: {z}",\n        "n": 12345678901234567890\n    }\n]');
    assert.equal(compactJSON('{ "a" : [ 1 , "b c" ] }'), '{"a":[1,"b c"]}');
  });

  it('events print like docker events', () => {
    const line = prettyEvent({ Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'x', image: 'busybox' } } }, 1795320758290382092n);
    assert.match(line, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.290382092(Z|[+-]\d{2}:\d{2}) container start abc \(image=busybox, name=x\)\n$/);
  });
});
