export { ContainerService, parseSignal } from './service';
export type { ContainerServiceOptions, ImageLookup, ExecRecord, Hijack } from './service';
export type { ContainerRecord, ContainerConfig, HostConfig, ContainerState } from './types';
export { LoopbackOnlyNetworks } from './network-provider';
export type { NetworkProvider, EtcPaths } from './network-provider';
export { BindOnlyMounts, parseBind } from './mount-provider';
export type { MountProvider, BindSpec } from './mount-provider';
