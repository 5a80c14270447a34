// Host device nodes → OCI linux.devices entries and device cgroup rules, as
// Docker's --device and --privileged do (moby oci.DevicesFromPath,
// containerd oci.HostDevices).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalid } from '../common/errors';

export interface OciDevice { path: string; type: 'c' | 'b'; major: number; minor: number; fileMode: number; uid: number; gid: number }
export interface OciDeviceRule { allow: boolean; type?: string; major?: number; minor?: number; access: string }

/** Linux's dev_t split (new_encode_dev): 12-bit major, 20-bit minor. */
function splitDev(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return { major, minor };
}

/** The device at p (symlinks followed), or undefined when p is not a device node. */
function deviceAt(p: string, inContainer: string): OciDevice | undefined {
  const st = fs.statSync(p);
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  return { path: inContainer, type, ...splitDev(st.rdev), fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/**
 * --device HOST[:CONTAINER[:PERMS]]: one node, or every node under a
 * directory (recursively), each with a cgroup rule granting perms.
 */
export function devicesFromPath(onHost: string, inContainer: string, perms: string): { devices: OciDevice[]; rules: OciDeviceRule[] } {
  const fail = (why: string): never => { throw invalid(`error gathering device information while adding custom device ${JSON.stringify(onHost)}: ${why}`); };
  if (!path.isAbsolute(inContainer)) fail(`${inContainer} is not an absolute path`);
  let st: fs.Stats;
  try { st = fs.statSync(onHost); } catch (e) { return fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : String((e as Error).message)); }
  const devices: OciDevice[] = [];
  if (st.isDirectory()) {
    // The walk is synchronous: a directory as large as a whole filesystem is refused rather than walked.
    let budget = MAX_WALK;
    const walk = (dir: string): void => {
      let names: fs.Dirent[];
      try { names = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
      budget -= names.length;
      if (budget < 0) fail(`more than ${MAX_WALK} entries under the directory`);
      for (const ent of names) {
        const p = path.join(dir, ent.name);
        if (ent.isDirectory()) { walk(p); continue; }
        try {
          const d = deviceAt(p, path.join(inContainer, path.relative(onHost, p)));
          if (d) devices.push(d);
        } catch { /* vanished or unreadable: skipped, as Docker does */ }
      }
    };
    walk(onHost);
    if (!devices.length) fail('not a device node');
  } else {
    const d = deviceAt(onHost, inContainer);
    if (!d) fail('not a device node');
    devices.push(d!);
  }
  return { devices, rules: devices.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: perms })) };
}

const MAX_WALK = 20000;

// Directories of /dev that hold no devices to copy (as containerd's HostDevices skips them).
const skipDirs = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node of the host's /dev, for --privileged. */
export function hostDevices(): OciDevice[] {
  const out: OciDevice[] = [];
  const walk = (dir: string): void => {
    let names: fs.Dirent[];
    try { names = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const ent of names) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) {
        if (!skipDirs.has(ent.name)) walk(p);
        continue;
      }
      if (p === '/dev/console' || !(ent.isCharacterDevice() || ent.isBlockDevice())) continue;
      try {
        const d = deviceAt(p, p);
        if (d) out.push(d);
      } catch { /* vanished: skipped */ }
    }
  };
  walk('/dev');
  return out;
}
