// The seam between containers and networking (implemented by src/network,
// wired by the daemon). The container service calls these at fixed points of
// a container's life; everything about bridges, addresses, NAT and DNS stays
// behind this interface.
import { notFound } from '../common/errors';
import type { ContainerRecord } from './types';

export interface EtcPaths { hosts: string; resolvConf: string; hostname: string }

/** What a provider may ask of the container service (network connect/disconnect). */
export interface ContainerHost {
  get(ref: string): ContainerRecord;
  all(): ContainerRecord[];
  /** persists rec (after a change of rec.Network) */
  save(rec: ContainerRecord): void;
  /** runs fn under the container's state lock */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>;
}

export interface NetworkProvider {
  /**
   * At create: validate the create body's NetworkingConfig (bad --ip →
   * invalid) and record what the container asks for in rec.Network
   * (persisted with the record). Must not allocate kernel state. An unknown
   * network in NetworkMode must NOT throw a not-found here (the docker CLI
   * answers a 404 from create by pulling the image): attach() throws
   * notFound(`network X not found`) at start instead, as Docker 20.10 does.
   */
  prepare(rec: ContainerRecord, networkingConfig: unknown): void;
  /**
   * After `runc create` (the network namespace exists at /proc/<pid>/ns/net),
   * before `runc start`: allocate addresses, create interfaces, publish ports,
   * register DNS names, write the container's hosts/resolv.conf. On failure
   * everything it did is undone and the error is thrown (the start fails).
   */
  attach(rec: ContainerRecord, pid: number, etc: EtcPaths): Promise<void>;
  /** After the container exited or at rm -f: undo attach. Idempotent; never throws. */
  detach(rec: ContainerRecord): Promise<void>;
  /** At rm: forget rec.Network. */
  release(rec: ContainerRecord): Promise<void>;
  /**
   * When the OCI spec (or an exec's environment) is built: the legacy link
   * variables (ALIAS_PORT_80_TCP_ADDR, ALIAS_NAME, ALIAS_ENV_x, ...) for
   * rec's --link targets, which go after PATH/HOSTNAME/TERM and before
   * Config.Env. Throws when a target is not running (the start fails);
   * with strict false (exec) such targets are left out instead.
   */
  linkEnv(rec: ContainerRecord, strict?: boolean): string[];
  /** NetworkSettings for inspect (Networks, Ports, IPAddress, ...). */
  inspect(rec: ContainerRecord): Record<string, unknown>;
  /** ps: Ports list and NetworkSettings.Networks. */
  summary(rec: ContainerRecord): { Ports: unknown[]; Networks: Record<string, unknown> };
  /** ps --filter network=... : names and ids of the networks the container is on. */
  networkNames(rec: ContainerRecord): string[];
  /** At daemon start, for containers found running: re-create NAT rules / DNS records. */
  restore(rec: ContainerRecord): Promise<void>;
  /** Called once by the container service's constructor. */
  bind?(host: ContainerHost): void;
}

function endpoint(): Record<string, unknown> {
  return {
    IPAMConfig: null, Links: null, Aliases: null, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0,
    IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: '', DriverOpts: null,
  };
}

/** Until bridge networking exists: every container gets a private namespace with loopback only ("none"), or the host's. */
export class LoopbackOnlyNetworks implements NetworkProvider {
  prepare(): void {
    // As Docker 20.10: an unknown network fails the start, not the create
    // (a 404 from create would make the CLI try to pull the image).
  }
  async attach(rec: ContainerRecord): Promise<void> {
    const m = rec.HostConfig.NetworkMode;
    if (!/^(default|bridge|none|host|container:.+)$/.test(m)) throw notFound(`network ${m} not found`);
    // nothing else: runc brings up lo
  }
  async detach(): Promise<void> { /* nothing */ }
  async release(): Promise<void> { /* nothing */ }
  async restore(): Promise<void> { /* nothing */ }
  linkEnv(): string[] { return []; }
  private name(rec: ContainerRecord): string {
    const m = rec.HostConfig.NetworkMode;
    return m === 'default' ? 'bridge' : m;
  }
  networkNames(rec: ContainerRecord): string[] { return [this.name(rec)]; }
  summary(rec: ContainerRecord): { Ports: unknown[]; Networks: Record<string, unknown> } {
    const n = this.name(rec);
    return { Ports: [], Networks: n.startsWith('container:') ? {} : { [n]: endpoint() } };
  }
  inspect(rec: ContainerRecord): Record<string, unknown> {
    return {
      Bridge: '', SandboxID: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: {},
      SandboxKey: rec.State.Running && rec.HostConfig.NetworkMode !== 'host' ? `/proc/${rec.State.Pid}/ns/net` : '',
      SecondaryIPAddresses: null, SecondaryIPv6Addresses: null, EndpointID: '', Gateway: '', GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0, IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', MacAddress: '',
      Networks: this.summary(rec).Networks,
    };
  }
}
