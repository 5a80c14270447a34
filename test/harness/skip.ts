// Integration tests need root (mounts, namespaces, runc).
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** For describe()/test() options: false when the tests can run, else the skip reason. */
export function skipUnlessRoot(): false | string {
  return isRoot() ? false : 'integration tests need root';
}
