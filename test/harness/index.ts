// Test harness for berth integration tests and benchmarks.
export { Daemon, startDaemon, useDaemon, type DaemonOptions, type CmdOptions } from './daemon';
export { apiRequest, ping, type ApiResponse, type ApiOptions } from './http';
export { busyboxTar } from './busybox';
export { run, runSync, describeResult, type RunResult, type RunOptions } from './proc';
export { TmuxSession } from './tmux';
export { sleep, waitFor, pidAlive } from './wait';
export { repoRoot, DOCKER_BIN, berthBin, berthdJs } from './paths';
export { sweepStaleSandboxes } from './namespace';
export { isRoot, skipUnlessRoot } from './skip';
export { startBackground, type Background } from './proc';
export { expectCode, expectOk, okOut, expectMatch } from './assert';
