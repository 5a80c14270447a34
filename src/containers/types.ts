// Docker's container shapes, as stored and as rendered by inspect.

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Healthcheck?: unknown;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number | null;
  Shell?: string[] | null;
}

export interface RestartPolicy { Name: string; MaximumRetryCount: number }

export interface MountSpec {
  Type: string;
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HostConfig {
  Binds: string[] | null;
  ContainerIDFile?: string;
  LogConfig: { Type: string; Config: Record<string, string> };
  NetworkMode: string;
  PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> | null;
  RestartPolicy: RestartPolicy;
  AutoRemove: boolean;
  VolumeDriver?: string;
  VolumesFrom: string[] | null;
  CapAdd: string[] | null;
  CapDrop: string[] | null;
  CgroupnsMode?: string;
  Dns: string[] | null;
  DnsOptions: string[] | null;
  DnsSearch: string[] | null;
  ExtraHosts: string[] | null;
  GroupAdd: string[] | null;
  IpcMode: string;
  Cgroup?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  PidMode: string;
  Privileged: boolean;
  PublishAllPorts: boolean;
  ReadonlyRootfs: boolean;
  SecurityOpt: string[] | null;
  Tmpfs?: Record<string, string>;
  UTSMode: string;
  UsernsMode?: string;
  ShmSize: number;
  Sysctls?: Record<string, string>;
  Runtime?: string;
  ConsoleSize: [number, number];
  Isolation?: string;
  Init?: boolean | null;
  Mounts?: MountSpec[];
  [k: string]: unknown;
}

export interface HealthState { Status: string; FailingStreak: number; Log: unknown[] }

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: HealthState;
}

/** What berthd persists per container (config.v2.json). */
export interface ContainerRecord {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string; // sha256:...
  Name: string; // with leading '/'
  RestartCount: number;
  Config: ContainerConfig;
  HostConfig: HostConfig;
  /** the snapshot parent (top chain id of the image) */
  SnapshotParent: string | null;
  /** set while started by us, to find conmon again after a restart */
  ConmonPid?: number;
  /** true once a user stopped it (unless-stopped) */
  ManuallyStopped?: boolean;
  /** owned by the network provider: what the container asked for and what it got */
  Network?: unknown;
  /** owned by the mount provider: resolved mounts (volumes created for this container) */
  MountPoints?: unknown;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';
