// berthd entry point.
import { setLogLevel, log } from '../common/log';
import { parseArgs, usage } from './config';
import { Daemon, BERTH_VERSION } from './daemon';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`berthd: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
  if (cfg === 'help') { process.stdout.write(usage); return; }
  if (cfg === 'version') { process.stdout.write(`berthd version ${BERTH_VERSION}, API 1.41\n`); return; }
  setLogLevel(cfg.logLevel);
  process.env['PATH'] = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin`;
  const d = new Daemon(cfg);
  try {
    await d.start();
  } catch (e) {
    log.error(`failed to start daemon: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`received ${sig}, shutting down; containers keep running under conmon`);
    void d.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGPIPE', () => undefined);
  // As dockerd dumps its goroutines on SIGUSR1: a memory report for operators chasing RSS.
  process.on('SIGUSR1', () => {
    const m = process.memoryUsage();
    const mb = (n: number): string => (n / 1048576).toFixed(1);
    log.info('memory', { rssMB: mb(m.rss), heapTotalMB: mb(m.heapTotal), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers) });
    if (process.env['BERTH_DEBUG_HEAP']) for (const sp of require('node:v8').getHeapSpaceStatistics() as Array<{ space_name: string; space_size: number; space_used_size: number }>) log.info('heap space', { name: sp.space_name, sizeMB: mb(sp.space_size), usedMB: mb(sp.space_used_size) });
  });
  process.on('unhandledRejection', (e) => log.error('unhandled rejection', { err: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
}

void main();
