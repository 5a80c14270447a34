// berthd on tcp:// with --tlsverify, reached by the docker CLI and by berth
// with client certificates: flags, DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, and
// refusals without a client certificate or with the wrong CA.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { berthBin, DOCKER_BIN, skipUnlessRoot, useDaemon } from '../harness';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tls-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

function makePki(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth tls test CA']);
  openssl(['req', '-x509', ...ec, '-keyout', 'other-ca-key.pem', '-out', 'other-ca.pem', '-days', '2', '-subj', '/CN=another CA']);
  fs.writeFileSync(path.join(dir, 'server.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  fs.writeFileSync(path.join(dir, 'client.cnf'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', 'berthd'], ['client', 'client']] as const) {
    openssl(['req', ...ec, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}-cert.pem`, '-days', '2', '-extfile', `${name}.cnf`]);
  }
  // The layout DOCKER_CERT_PATH expects.
  fs.mkdirSync(path.join(dir, 'certpath'));
  fs.copyFileSync(path.join(dir, 'ca.pem'), path.join(dir, 'certpath', 'ca.pem'));
  fs.copyFileSync(path.join(dir, 'client-cert.pem'), path.join(dir, 'certpath', 'cert.pem'));
  fs.copyFileSync(path.join(dir, 'client-key.pem'), path.join(dir, 'certpath', 'key.pem'));
}

const root = skipUnlessRoot();
if (!root) makePki();
const f = (n: string): string => path.join(dir, n);
const HOST = 'tcp://127.0.0.1:23761';

describe('berthd over TLS', { skip: root }, () => {
  const d = useDaemon({ args: ['-H', HOST, '--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('server-cert.pem'), '--tlskey', f('server-key.pem')] });
  const clientFlags = ['-H', HOST, '--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('client-cert.pem'), '--tlskey', f('client-key.pem')];
  // The TCP socket lives in the daemon's network namespace: clients run there.
  const inNs = (bin: string, args: string[]): { code: number; out: string } => {
    const r = d.nsRun(bin, args);
    return { code: r.code, out: `${r.stdout}${r.stderr}`.trim() };
  };

  it('the docker CLI and berth talk to it with client certificates', () => {
    const dv = inNs(DOCKER_BIN, [...clientFlags, 'version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(dv.code, 0, dv.out);
    assert.equal(dv.out, '1.41');
    const bv = inNs(berthBin(), [...clientFlags, 'version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(bv.code, 0, bv.out);
    assert.equal(bv.out, '1.41');
    const ps = inNs(berthBin(), [...clientFlags, 'ps', '-a', '--format', '{{.ID}}']);
    assert.equal(ps.code, 0, ps.out);
  });

  it('berth takes DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', () => {
    const r = inNs('env', [`DOCKER_TLS_VERIFY=1`, `DOCKER_CERT_PATH=${f('certpath')}`, `DOCKER_HOST=${HOST}`, berthBin(), 'info', '--format', '{{.Driver}}']);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out, 'overlay2');
  });

  it('is refused without a client certificate, with the wrong CA, and in plain HTTP', () => {
    const noCert = inNs('env', [`HOME=${dir}`, berthBin(), '-H', HOST, '--tlsverify', '--tlscacert', f('ca.pem'), 'version']);
    assert.notEqual(noCert.code, 0, noCert.out);
    const wrongCa = inNs(berthBin(), ['-H', HOST, '--tlsverify', '--tlscacert', f('other-ca.pem'), '--tlscert', f('client-cert.pem'), '--tlskey', f('client-key.pem'), 'version']);
    assert.notEqual(wrongCa.code, 0, wrongCa.out);
    assert.match(wrongCa.out, /certificate/i);
    const plain = inNs('env', [`HOME=${dir}`, berthBin(), '-H', HOST, 'version']);
    assert.notEqual(plain.code, 0, plain.out);
  });
});
