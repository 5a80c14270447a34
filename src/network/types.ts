// Shapes the network module works with. Containers are seen through the
// small structural ContainerLike view (the container service's records fit
// it), so this layer never imports the container layer.
import type { FwLinkPort } from './firewall';
import type { LinkRef } from './links';
import type { BoundPort } from './ports';

export interface ContainerLike {
  Id: string;
  Name: string;
  Config: {
    Hostname: string;
    Domainname: string;
    Env?: string[];
    ExposedPorts?: Record<string, object> | null;
    MacAddress?: string;
  };
  HostConfig: {
    NetworkMode: string;
    PortBindings?: unknown;
    PublishAllPorts?: boolean;
    Dns?: string[] | null;
    DnsSearch?: string[] | null;
    DnsOptions?: string[] | null;
    ExtraHosts?: string[] | null;
    Links?: string[] | null;
  };
  State: { Running: boolean; Pid: number };
  Network?: unknown;
}

/** What the network module may ask of the container service. */
export interface ContainerHost {
  get(ref: string): ContainerLike;
  all(): ContainerLike[];
  save(rec: ContainerLike): void;
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>;
}

export interface EtcPaths { hosts: string; resolvConf: string; hostname: string }

/** One IPAM.Config entry as the API shows it. */
export interface IpamConfigEntry { Subnet: string; Gateway: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }

/** A network as persisted (and, minus the berth fields, as the API shows it). */
export interface NetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge' | 'host' | 'null';
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: IpamConfigEntry[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** berth: predefined (bridge, host, none) */
  builtin: boolean;
  /** berth: the subnet was given by the user (so --ip is allowed) */
  userSubnet: boolean;
  /** berth: Linux bridge name */
  bridge?: string;
}

/** One endpoint a container asks for (create, connect). */
export interface EndpointRequest {
  /** the network as the user named it (name, id or id prefix) */
  network: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  /** per-endpoint MAC (API 1.44's EndpointSettings.MacAddress) */
  mac?: string;
  links?: string[];
  /** last resolved network id, for inspect of a stopped container */
  networkId?: string;
}

/** One endpoint in force, as persisted. */
export interface EndpointState {
  networkId: string;
  ifname: string;
  hostVeth: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  /** on an IPv6 network: the container's global address, its prefix length and the gateway */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  mac: string;
  endpointId: string;
  aliases: string[];
  /** --link specs on a user-defined network: aliases only this container resolves */
  links?: string[];
}

/** A running container's networking, as persisted (endpoint file and rec.Network.attached). */
export interface SandboxState {
  pid: number;
  sandboxId: string;
  etc: EtcPaths;
  endpoints: EndpointState[];
  ports: BoundPort[];
  /** the network whose gateway is the container's default route (and carries its published ports) */
  gatewayNetwork?: string;
  /** where the container's 127.0.0.11 goes */
  dns?: { networkId: string; server: string; port: number };
  upstream: string[];
  /** icc=false: the link ports opened for this container (as parent) */
  linkFw?: FwLinkPort[];
}

/** rec.Network: owned by the network module, persisted with the container. */
export interface ContainerNet {
  requested: EndpointRequest[];
  /** legacy links on the default bridge, resolved at create */
  links?: LinkRef[];
  attached?: SandboxState;
}
