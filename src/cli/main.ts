// Entry point of the `berth` CLI (bundled to dist/berth.js).
import { main, printError } from './app';

function exit(code: number): void {
  // stdout/stderr writes to files, pipes and terminals are synchronous on Linux
  process.exit(code);
}

main(process.argv.slice(2)).then(exit, (e: unknown) => exit(printError(e)));
