// The pure parts of the docker run reference work: env merging, security
// options, device rules, create-time validation, the attach frame filter.
import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { FrameFilter } from '../../src/containers/attach';
import {
  applyDefaults, mergeImageEnv, parseDeviceCgroupRule, parseSecurityOpt, replaceOrAppendEnv, validateCreate, validateLogOpts,
} from '../../src/containers/hostconfig';
import type { HostConfig } from '../../src/containers/types';

function hc(over: Partial<HostConfig> = {}): HostConfig {
  return {
    Binds: null, LogConfig: { Type: 'json-file', Config: {} }, NetworkMode: 'default', PortBindings: {}, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false, VolumesFrom: null, CapAdd: null, CapDrop: null, Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null,
    IpcMode: 'private', PidMode: '', Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false, SecurityOpt: null, UTSMode: '', ShmSize: 67108864,
    ConsoleSize: [0, 0], Runtime: 'runc', ...over,
  };
}
const cfg = { Hostname: 'h', Env: [] as string[] };
const err = (f: () => void): string => {
  try { f(); } catch (e) { return (e as Error).message; }
  return 'no error';
};

describe('docker run reference (units)', () => {
  it('env: user entries first, image entries they do not name after; "NAME" alone unsets', () => {
    assert.deepEqual(mergeImageEnv(['A=1', 'PATH=/x'], ['PATH=/bin', 'B=2']), ['A=1', 'PATH=/x', 'B=2']);
    assert.deepEqual(mergeImageEnv([], ['PATH=/bin']), ['PATH=/bin']);
    assert.deepEqual(replaceOrAppendEnv(['PATH=/bin', 'HOSTNAME=h'], ['HOSTNAME=x', 'NOPE', 'A=1', 'PATH']), ['HOSTNAME=x', 'A=1']);
  });

  it('security options as parseSecurityOpt', () => {
    assert.equal(parseSecurityOpt(['no-new-privileges']).noNewPrivileges, true);
    assert.equal(parseSecurityOpt(['no-new-privileges:true']).noNewPrivileges, true);
    assert.equal(parseSecurityOpt(['no-new-privileges=false']).noNewPrivileges, false);
    assert.equal(parseSecurityOpt(['seccomp=unconfined', 'apparmor=unconfined', 'label=disable', 'label:type:x']).seccomp, 'unconfined');
    assert.equal(err(() => parseSecurityOpt(['bogus'])), 'invalid --security-opt 1: "bogus"');
    assert.equal(err(() => parseSecurityOpt(['foo=bar'])), 'invalid --security-opt 2: "foo=bar"');
    assert.equal(err(() => parseSecurityOpt(['no-new-privileges=yes'])), 'invalid --security-opt 2: "no-new-privileges=yes"');
  });

  it('log options per driver', () => {
    assert.equal(err(() => validateLogOpts('none', { anything: 'x' })), 'no error');
    assert.equal(err(() => validateLogOpts('json-file', { 'max-size': '1m', labels: 'a', mode: 'non-blocking', 'max-buffer-size': '1m' })), 'no error');
    assert.equal(err(() => validateLogOpts('json-file', { foo: 'x' })), "unknown log opt 'foo' for json-file log driver");
    assert.equal(err(() => validateLogOpts('local', { labels: 'x' })), "unknown log opt 'labels' for log driver local");
    assert.equal(err(() => validateLogOpts('local', { mode: 'sometimes' })), 'logger: logging mode not supported: sometimes');
    assert.equal(err(() => validateLogOpts('json-file', { 'max-buffer-size': '1m' })), "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  });

  it('device cgroup rules', () => {
    assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
    assert.deepEqual(parseDeviceCgroupRule('b *:* m'), { allow: true, type: 'b', major: -1, minor: -1, access: 'm' });
    assert.equal(err(() => parseDeviceCgroupRule('c 1:3 rwx')), "invalid device cgroup rule format: 'c 1:3 rwx'");
  });

  it("create-time validation with Docker's texts", () => {
    assert.equal(err(() => validateCreate(cfg, hc())), 'no error');
    assert.equal(err(() => validateCreate(cfg, hc({ CapAdd: ['net_admin', 'CAP_SYS_ADMIN', 'ALL'] }))), 'no error');
    assert.equal(err(() => validateCreate(cfg, hc({ CapAdd: ['bogus'] }))), 'invalid CapAdd: unknown capability: "CAP_BOGUS"');
    assert.equal(err(() => validateCreate(cfg, hc({ RestartPolicy: { Name: 'sometimes', MaximumRetryCount: 0 } }))),
      "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
    assert.equal(err(() => validateCreate(cfg, hc({ RestartPolicy: { Name: 'always', MaximumRetryCount: -1 } }))),
      "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative");
    assert.equal(err(() => validateCreate(cfg, hc({ Isolation: 'hyperv' }))), "invalid isolation (hyperv): linux only supports 'default'");
    assert.equal(err(() => validateCreate({ ...cfg, requestedHostname: 'x' }, hc({ UTSMode: 'host' }))), 'conflicting options: hostname and the UTS mode');
    assert.equal(err(() => validateCreate({ ...cfg, exposesPorts: true }, hc({ NetworkMode: 'container:a' }))), 'conflicting options: port exposing and the container type network mode');
    assert.equal(err(() => validateCreate(cfg, hc({ NetworkMode: 'container:' }))), 'invalid network mode: invalid container format container:<name|id>');
    assert.equal(err(() => validateCreate(cfg, hc({ IOMaximumBandwidth: 5 }))), 'invalid option: QoS maximum bandwidth configuration is not supported on linux');
    assert.equal(err(() => validateCreate(cfg, hc({ IpcMode: 'container:' }))), 'invalid IPC mode: container:');
    assert.equal(err(() => validateCreate(cfg, hc({ UTSMode: 'private' }))), 'invalid UTS mode: private');
    assert.equal(err(() => validateCreate(cfg, hc({ CgroupnsMode: 'shared' }))), 'invalid cgroup namespace mode: shared');
    assert.equal(err(() => validateCreate(cfg, hc({ OomScoreAdj: -1001 }))), 'Invalid value -1001, range for oom score adj is [-1000, 1000]');
    assert.equal(err(() => validateCreate(cfg, hc({ ShmSize: -1 }))), 'SHM size can not be less than 0');
    assert.equal(err(() => validateCreate({ ...cfg, Env: ['=x'] }, hc())), 'invalid environment variable: =x');
    assert.equal(err(() => validateCreate({ ...cfg, Hostname: 'x'.repeat(65) }, hc())), `hostname "${'x'.repeat(65)}" is too long (maximum 64 bytes)`);
    assert.equal(err(() => validateCreate({ ...cfg, Healthcheck: { Test: ['CMD', 'true'], Timeout: 10 } }, hc())), 'Timeout in Healthcheck cannot be less than 1ms');
    assert.equal(err(() => validateCreate(cfg, hc({ StorageOpt: { size: '1G' } }))), "--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
    assert.equal(err(() => validateCreate(cfg, hc({ DeviceRequests: [{ Driver: 'nvidia', Capabilities: [['gpu', 'utility']] }] }))),
      'could not select device driver "nvidia" with capabilities: [[gpu utility]]');
  });

  it("defaults as Docker's adaptContainerSettings", () => {
    const h = hc({ RestartPolicy: { Name: '', MaximumRetryCount: 0 }, PidMode: 'container:web', Memory: 64 << 20 });
    applyDefaults(h, (ref) => (ref === 'web' ? 'abc123' : undefined));
    assert.equal(h.RestartPolicy.Name, 'no');
    assert.equal(h.PidMode, 'container:abc123');
    assert.equal(h['MemorySwap'], 128 << 20);
    assert.equal(h['OomKillDisable'], false);
    assert.ok(Array.isArray(h['MaskedPaths']));
    assert.equal(h.SecurityOpt, null);
    const p = hc({ Privileged: true });
    applyDefaults(p, () => undefined);
    assert.deepEqual(p.SecurityOpt, ['label=disable']);
    assert.equal(p['MaskedPaths'], undefined);
    const l = hc({ PidMode: 'host', SecurityOpt: ['label=type:foo'] });
    applyDefaults(l, () => undefined);
    assert.deepEqual(l.SecurityOpt, ['label=type:foo']);
  });

  it('the frame filter passes only the wanted streams, across chunk boundaries', async () => {
    const frame = (id: number, s: string): Buffer => {
      const h = Buffer.alloc(8); h[0] = id; h.writeUInt32BE(Buffer.byteLength(s), 4);
      return Buffer.concat([h, Buffer.from(s)]);
    };
    const all = Buffer.concat([frame(1, 'out1'), frame(2, 'err1'), frame(1, 'out2')]);
    const f = new FrameFilter((id) => id === 2);
    const sink = new PassThrough();
    f.pipe(sink);
    const chunks: Buffer[] = [];
    sink.on('data', (c: Buffer) => chunks.push(c));
    for (let i = 0; i < all.length; i += 5) f.write(all.subarray(i, i + 5));
    f.end();
    await new Promise((r) => sink.on('end', r));
    assert.deepEqual(Buffer.concat(chunks), frame(2, 'err1'));
  });
});
