// Entry point of the `berth` CLI (bundled to dist/berth.js).
import { main, printError } from './app';

function exit(code: number): void {
  // stdout/stderr writes to files, pipes and terminals are synchronous on Linux
  process.exit(code);
}

// A closed pipe (`berth logs x | head -1`): Go programs die of SIGPIPE (status
// 141 in the shell); node only reports EPIPE, so exit the same way, silently.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
}

main(process.argv.slice(2)).then(exit, (e: unknown) => exit(printError(e)));
