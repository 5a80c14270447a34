// Docker's USER resolution: name or uid, optional group, looked up in the
// container's own /etc/passwd and /etc/group.
import { invalid } from '../common/errors';
import { readFileInRoot } from './root-path';

export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; home: string }

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

function parsePasswd(text: string | undefined): PasswdEntry[] {
  if (!text) return [];
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const f = l.split(':');
    return { name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
  }).filter((e) => Number.isInteger(e.uid) && Number.isInteger(e.gid));
}

function parseGroup(text: string | undefined): GroupEntry[] {
  if (!text) return [];
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const f = l.split(':');
    return { name: f[0] ?? '', gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) };
  }).filter((e) => Number.isInteger(e.gid));
}

const isNum = (s: string): boolean => /^\d+$/.test(s);

export function resolveUser(rootfs: string, spec: string, groupAdd: string[] = []): ResolvedUser {
  const [userPart = '', groupPart] = (spec || '').split(':', 2);
  const passwd = parsePasswd(readFileInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(readFileInRoot(rootfs, '/etc/group'));
  let uid = 0, gid = 0, home = '/', name = 'root';
  if (userPart === '') {
    const root = passwd.find((e) => e.uid === 0);
    if (root) { gid = root.gid; home = root.home; }
  } else {
    const byName = passwd.find((e) => (isNum(userPart) ? e.uid === Number(userPart) : e.name === userPart));
    if (byName) {
      uid = byName.uid; gid = byName.gid; home = byName.home; name = byName.name;
    } else if (isNum(userPart)) {
      uid = Number(userPart); gid = 0; name = '';
    } else {
      throw invalid(`unable to find user ${userPart}: no matching entries in passwd file`);
    }
  }
  if (groupPart !== undefined && groupPart !== '') {
    const g = groups.find((e) => (isNum(groupPart) ? e.gid === Number(groupPart) : e.name === groupPart));
    if (g) gid = g.gid;
    else if (isNum(groupPart)) gid = Number(groupPart);
    else throw invalid(`unable to find group ${groupPart}: no matching entries in group file`);
  }
  const additional = new Set<number>();
  if (name && groupPart === undefined) for (const g of groups) if (g.members.includes(name) && g.gid !== gid) additional.add(g.gid);
  for (const ga of groupAdd) {
    const g = groups.find((e) => (isNum(ga) ? e.gid === Number(ga) : e.name === ga));
    if (g) additional.add(g.gid);
    else if (isNum(ga)) additional.add(Number(ga));
    else throw invalid(`Unable to find group ${ga}: no matching entries in group file`);
  }
  return { uid, gid, additionalGids: [...additional], home };
}
