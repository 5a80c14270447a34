// berthd's registry flags (dockerd's names and semantics) and /info's RegistryConfig.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, type DaemonConfig } from '../../src/daemon/config';
import { DEFAULT_REGISTRY_CONFIG, registryInfo, RegistryHosts, validateInsecureRegistry, validateMirror } from '../../src/distribution/config';

function withFile(content: object, argv: string[]): DaemonConfig {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  try {
    const f = path.join(dir, 'daemon.json');
    fs.writeFileSync(f, JSON.stringify(content));
    const c = parseArgs(['--config-file', f, ...argv]);
    assert.ok(typeof c === 'object');
    return c;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('registry flags set the same settings as daemon.json keys', () => {
  const c = withFile({}, [
    '--insecure-registry', 'reg.example:5000', '--insecure-registry=10.1.2.3/8', '--insecure-registry', 'http://plain.example',
    '--registry-mirror', 'https://mirror.example/', '--registry-mirror=http://m2.example:5000',
    '--max-concurrent-downloads', '7', '--max-concurrent-uploads=2', '--max-download-attempts', '9',
  ]);
  assert.deepEqual(c.registry, {
    insecureRegistries: ['reg.example:5000', '10.0.0.0/8', 'plain.example'],
    mirrors: ['https://mirror.example', 'http://m2.example:5000'],
    maxConcurrentDownloads: 7, maxConcurrentUploads: 2, maxDownloadAttempts: 9,
  });
  const f = withFile({
    'insecure-registries': ['reg.example:5000', '10.1.2.3/8', 'http://plain.example'],
    'registry-mirrors': ['https://mirror.example/', 'http://m2.example:5000'],
    'max-concurrent-downloads': 7, 'max-concurrent-uploads': 2, 'max-download-attempts': 9,
  }, []);
  assert.deepEqual(f.registry, c.registry);
  assert.deepEqual(withFile({}, []).registry, {});
});

test('a key given as a flag and in the file is dockerd\'s conflict error', () => {
  assert.throws(() => withFile({ 'max-concurrent-downloads': 5, 'registry-mirrors': ['https://a.example'] }, ['--max-concurrent-downloads', '3', '--registry-mirror', 'https://b.example']), (e: Error) => {
    assert.match(e.message, /^unable to configure the Docker daemon with file .*daemon\.json: the following directives are specified both as a flag and in the configuration file: /);
    assert.match(e.message, /registry-mirrors: \(from flag: \[https:\/\/b\.example\], from file: \[https:\/\/a\.example\]\)/);
    assert.match(e.message, /max-concurrent-downloads: \(from flag: 3, from file: 5\)/);
    return true;
  });
  assert.throws(() => withFile({ 'insecure-registries': ['a:1'] }, ['--insecure-registry', 'b:2']), /insecure-registries: \(from flag: \[b:2\], from file: \[a:1\]\)/);
  // Different keys do not conflict.
  assert.equal(withFile({ 'max-concurrent-uploads': 4 }, ['--max-concurrent-downloads', '2']).registry.maxConcurrentUploads, 4);
});

test('invalid values get dockerd\'s messages', () => {
  assert.throws(() => withFile({}, ['--max-concurrent-downloads', '-1']), /invalid max concurrent downloads: -1/);
  assert.throws(() => withFile({ 'max-download-attempts': 0 }, []), /invalid max download attempts: 0/);
  assert.throws(() => withFile({}, ['--max-concurrent-uploads', 'x']), /invalid max concurrent uploads: x/);
  assert.throws(() => validateMirror('ftp://m.example'), /invalid mirror: unsupported scheme "ftp"/);
  assert.throws(() => validateMirror('https://m.example/v2/'), /invalid mirror: path, query, or fragment/);
  assert.throws(() => validateMirror('https://u:secret@m.example'), (e: Error) => /username\/password not allowed/.test(e.message) && !e.message.includes('secret'));
  assert.throws(() => validateInsecureRegistry('ftp://x.example'), /should not contain ':\/\/'/);
  assert.throws(() => validateInsecureRegistry('-bad.example'), /Cannot begin or end with a hyphen/);
  assert.throws(() => validateInsecureRegistry('bad_host:5000'), /is not valid: invalid host/);
  assert.throws(() => validateInsecureRegistry('host:99999'), /invalid port/);
  assert.equal(validateInsecureRegistry('[::1]:5000'), '[::1]:5000');
  assert.equal(validateInsecureRegistry('fd00:1:2::5/48'), 'fd00:1:2::/48');
});

test('/info RegistryConfig has dockerd\'s shape', () => {
  const info = registryInfo({ ...DEFAULT_REGISTRY_CONFIG, insecureRegistries: ['reg.example:5000', '10.0.0.0/8'], mirrors: ['https://mirror.example'] });
  assert.deepEqual(info.InsecureRegistryCIDRs, ['10.0.0.0/8', '127.0.0.0/8']);
  assert.deepEqual(info.Mirrors, ['https://mirror.example/']);
  assert.deepEqual(info.IndexConfigs, {
    'reg.example:5000': { Name: 'reg.example:5000', Mirrors: [], Secure: false, Official: false },
    'docker.io': { Name: 'docker.io', Mirrors: ['https://mirror.example/'], Secure: true, Official: true },
  });
  const dflt = registryInfo(DEFAULT_REGISTRY_CONFIG);
  assert.deepEqual(dflt.InsecureRegistryCIDRs, ['127.0.0.0/8']);
  assert.deepEqual(Object.keys(dflt.IndexConfigs), ['docker.io']);
});

test('flag-configured insecure registries are used for endpoints', async () => {
  const c = withFile({}, ['--insecure-registry', 'reg.example:5000', '--insecure-registry', '192.168.7.0/24']);
  const hosts = new RegistryHosts({ ...DEFAULT_REGISTRY_CONFIG, ...c.registry });
  assert.equal(await hosts.isInsecure('reg.example:5000'), true);
  assert.equal(await hosts.isInsecure('192.168.7.9:443'), true);
  assert.equal(await hosts.isInsecure('192.168.8.9:443'), false);
  assert.equal(await hosts.isInsecure('127.0.0.1:5000'), true);
  const eps = await hosts.endpoints('reg.example:5000');
  assert.deepEqual(eps.map((e) => e.url), ['https://reg.example:5000', 'http://reg.example:5000']);
});
