// Registry settings given as berthd flags, as dockerd's: /info's RegistryConfig
// reflects them, and a key set both as a flag and in daemon.json stops the
// daemon with dockerd's conflict error.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { berthdJs, okOut, skipUnlessRoot, useDaemon } from '../harness';

describe('registry flags', { skip: skipUnlessRoot() }, () => {
  const d = useDaemon({
    busybox: false,
    args: ['--insecure-registry', 'reg.example:5000', '--insecure-registry=10.1.0.0/16', '--registry-mirror', 'https://mirror.example', '--max-concurrent-downloads', '2'],
  });

  it('/info RegistryConfig shows flag-given insecure registries and mirrors', async () => {
    const reg = JSON.parse(okOut(await d.docker(['info', '--format', '{{json .RegistryConfig}}']), 'info')) as {
      InsecureRegistryCIDRs: string[]; IndexConfigs: Record<string, { Name: string; Mirrors: string[]; Secure: boolean; Official: boolean }>; Mirrors: string[];
    };
    assert.deepEqual(reg.InsecureRegistryCIDRs, ['10.1.0.0/16', '127.0.0.0/8']);
    assert.deepEqual(reg.Mirrors, ['https://mirror.example/']);
    assert.deepEqual(reg.IndexConfigs['reg.example:5000'], { Name: 'reg.example:5000', Mirrors: [], Secure: false, Official: false });
    assert.deepEqual(reg.IndexConfigs['docker.io'], { Name: 'docker.io', Mirrors: ['https://mirror.example/'], Secure: true, Official: true });
    const text = okOut(await d.docker(['info']), 'info');
    assert.match(text, /Insecure Registries:\n\s+reg\.example:5000\n\s+10\.1\.0\.0\/16\n\s+127\.0\.0\.0\/8/);
    assert.match(text, /Registry Mirrors:\n\s+https:\/\/mirror\.example\//);
  });

  it('a key given as a flag and in the config file is refused at start-up', () => {
    const dir = fs.mkdtempSync(path.join(d.dir, 'conflict-'));
    const file = path.join(dir, 'daemon.json');
    fs.writeFileSync(file, JSON.stringify({ 'max-concurrent-downloads': 5 }));
    // Fails while parsing its arguments, before it binds or mounts anything (and inside the test's namespace anyway).
    const r = d.nsRun(process.execPath, [berthdJs(), '--config-file', file, '--max-concurrent-downloads', '3',
      '--data-root', path.join(dir, 'root'), '--exec-root', path.join(dir, 'exec'), '-H', `unix://${path.join(dir, 's.sock')}`, '--pidfile', path.join(dir, 'pid')]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stderr.trim(), `berthd: unable to configure the Docker daemon with file ${file}: the following directives are specified both as a flag and in the configuration file: max-concurrent-downloads: (from flag: 3, from file: 5)`);
    assert.equal(fs.existsSync(path.join(dir, 'root')), false, 'nothing was created');
  });
});
