// Removes test sandboxes (/tmp/bt-*) whose owning test process died without
// cleaning up. Run by scripts/test.sh at the end of a run.
import { sweepStaleSandboxes } from './namespace';

const swept = sweepStaleSandboxes();
for (const d of swept) process.stdout.write(`swept stale test sandbox ${d}\n`);
