// Public face of the network module: the service the daemon builds and wires
// into the container service (as its NetworkProvider) and the /networks API.
export { NetworkService, createNetworkService } from './service';
export type { DaemonNetFlags, NetworkServiceOptions } from './service';
export type { ContainerHost, ContainerLike, NetworkRecord } from './types';
