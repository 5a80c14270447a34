// import/commit `changes` (Docker's BuildFromConfig).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { applyChanges } from '../../src/images';

test('ENV, LABEL and expansion', () => {
  const c = applyChanges({ Env: ['PATH=/bin', 'A=old'] }, ['ENV A=1 B="two words" C=$A', 'ENV D ${B:-x} and more', 'LABEL "com.x"=\'$A\' y=${A}z', 'ENV PATH=/usr/bin:$PATH']);
  assert.deepEqual(c.Env, ['PATH=/usr/bin:/bin', 'A=1', 'B=two words', 'C=old', 'D=two words and more']);
  assert.deepEqual(c.Labels, { 'com.x': '$A', y: '1z' });
});

test('CMD / ENTRYPOINT forms and their interplay', () => {
  assert.deepEqual(applyChanges({}, ['CMD ["sh","-c","x"]']).Cmd, ['sh', '-c', 'x']);
  assert.deepEqual(applyChanges({}, ['CMD echo $HOME > /x']).Cmd, ['/bin/sh', '-c', 'echo $HOME > /x']);
  assert.deepEqual(applyChanges({}, ['CMD [not json']).Cmd, ['/bin/sh', '-c', '[not json']);
  const e = applyChanges({ Cmd: ['old'] }, ['ENTRYPOINT ["/ep"]']);
  assert.deepEqual(e.Entrypoint, ['/ep']);
  assert.equal(e.Cmd, null); // ENTRYPOINT resets an inherited CMD
  const both = applyChanges({}, ['CMD ["a"]', 'ENTRYPOINT ["/ep"]']);
  assert.deepEqual(both.Cmd, ['a']);
});

test('EXPOSE, VOLUME, WORKDIR, USER, ONBUILD, STOPSIGNAL, HEALTHCHECK', () => {
  const c = applyChanges({ WorkingDir: '/app' }, [
    'EXPOSE 80 53/udp 8000-8002',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /more',
    'WORKDIR sub',
    'USER nobody:nogroup',
    'ONBUILD RUN echo hi',
    'STOPSIGNAL SIGQUIT',
    'HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/',
  ]);
  assert.deepEqual(Object.keys(c.ExposedPorts ?? {}).sort(), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp', '8002/tcp']);
  assert.deepEqual(Object.keys(c.Volumes ?? {}).sort(), ['/data', '/logs', '/more']);
  assert.equal(c.WorkingDir, '/app/sub');
  assert.equal(c.User, 'nobody:nogroup');
  assert.deepEqual(c.OnBuild, ['RUN echo hi']);
  assert.equal(c.StopSignal, 'SIGQUIT');
  assert.deepEqual(c.Healthcheck, { Interval: 5e9, Retries: 3, Test: ['CMD-SHELL', 'curl -f http://localhost/'] });
  assert.deepEqual(applyChanges({}, ['HEALTHCHECK NONE']).Healthcheck, { Test: ['NONE'] });
});

test('instructions Docker does not accept as changes are rejected with its message', () => {
  assert.throws(() => applyChanges({}, ['RUN echo']), /^EngineError: run is not a valid change command$|run is not a valid change command/);
  assert.throws(() => applyChanges({}, ['FROM x']), /from is not a valid change command/);
  assert.throws(() => applyChanges({}, ['CMD ok', 'COPY a b']), /copy is not a valid change command/);
  assert.throws(() => applyChanges({}, ['STOPSIGNAL SIGNOPE']), /Invalid signal/);
  assert.throws(() => applyChanges({}, ['ENV a=1 b']), /Must be of the form: name=value/);
  assert.throws(() => applyChanges({}, ['EXPOSE 99999']), /invalid containerPort/);
  assert.throws(() => applyChanges({}, ['ONBUILD ONBUILD RUN x']), /Chaining ONBUILD/);
  const orig = { Env: ['A=1'] };
  applyChanges(orig, ['ENV A=2']);
  assert.deepEqual(orig.Env, ['A=1']); // input untouched
});
