// The step display of `berth build` (issue #7), fed the legacy builder's
// text with a fake clock.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StepDisplay, stepDuration } from '../../src/cli/commands/build';

function run(chunks: Array<[number, string]>, ok = true, verbose = false): string {
  let now = 0;
  let out = '';
  const d = new StepDisplay((s) => (out += s), () => now, verbose);
  for (const [t, s] of chunks) {
    now = t;
    d.text(s);
  }
  d.finish(ok);
  return out;
}

describe('build step display', () => {
  it('durations', () => {
    assert.equal(stepDuration(0), '0.0s');
    assert.equal(stepDuration(1234), '1.2s');
    assert.equal(stepDuration(125_000), '2m05s');
  });

  it('shows steps with durations, CACHED, RUN output, and passes the rest through', () => {
    const out = run([
      [0, 'Step 1/3 : FROM busybox\n'],
      [0, ' ---> 3f57d9401f8d\n'],
      [100, 'Step 2/3 : RUN echo hi\n'],
      [150, ' ---> Running in 0123456789ab\n'],
      [200, 'h'],
      [250, 'i\n'],
      [1300, 'Removing intermediate container 0123456789ab\n ---> aaaaaaaaaaaa\n'],
      [1400, 'Step 3/3 : COPY . /\n'],
      [1400, ' ---> Using cache\n ---> bbbbbbbbbbbb\n'],
      [1500, 'Successfully built bbbbbbbbbbbb\nSuccessfully tagged x:latest\n'],
      [2000, ''],
    ]);
    assert.equal(out, [
      '[1/3] FROM busybox',
      '      => 0.1s  3f57d9401f8d',
      '[2/3] RUN echo hi',
      '      hi',
      '      => 1.3s  aaaaaaaaaaaa',
      '[3/3] COPY . /',
      '      => CACHED  bbbbbbbbbbbb',
      'Successfully built bbbbbbbbbbbb',
      'Successfully tagged x:latest',
      'Build finished in 2.0s: 3 steps, 1 cached',
      '',
    ].join('\n'));
  });

  it('marks the failing step and keeps its output; --debug shows the container lines', () => {
    const out = run([
      [0, 'Step 1/2 : FROM busybox\n ---> 3f57d9401f8d\n'],
      [0, 'Step 2/2 : RUN false\n ---> Running in 0123456789ab\n'],
      [500, 'partial without newline'],
    ], false, true);
    assert.equal(out, [
      '[1/2] FROM busybox',
      '      => 0.0s  3f57d9401f8d',
      '[2/2] RUN false',
      '      ---> Running in 0123456789ab',
      '      partial without newline',
      '      => FAILED after 0.5s',
      '',
    ].join('\n'));
  });

  it('aligns step numbers and keeps only the last state of a carriage-return line', () => {
    const out = run([[0, 'Step 1/10 : FROM x\n'], [0, 'progress 1\rprogress 2\r\n']]);
    assert.match(out, /^\[ 1\/10\] FROM x\n {6}progress 2\n/);
  });
});
