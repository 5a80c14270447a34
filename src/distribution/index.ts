// The registry side of the image store: pull, push and login over the OCI
// Distribution API (see client.ts for the protocol, pull.ts/push.ts for the
// transfers). The daemon builds one Distribution and routes call into it.
import type { ImageService } from '../images';
import type { DistributionMeta } from '../images/distribution-meta';
import { parseAuthConfig, type AuthConfig } from './auth';
import { RegistryClient } from './client';
import { DOCKER_HUB_INDEX, type RegistryConfig } from './config';
import { InFlight, Puller, type PullRequest } from './pull';
import { Pusher, type PushRequest } from './push';

export { decodeRegistryAuth, parseAuthConfig, type AuthConfig } from './auth';
export { loadRegistryConfig, DEFAULT_REGISTRY_CONFIG, type RegistryConfig } from './config';
export { ProgressOutput, errorMessage, type JSONMessage } from './progress';
export type { PullRequest } from './pull';
export type { PushRequest } from './push';

export interface DistributionDeps {
  images: ImageService;
  meta: DistributionMeta;
  cfg: RegistryConfig;
}

/** Docker's ConvertToHostname: "https://index.docker.io/v1/" → "index.docker.io". */
export function serverHost(serveraddress: string): string {
  let s = serveraddress.trim();
  s = s.replace(/^https?:\/\//, '');
  const i = s.indexOf('/');
  if (i >= 0) s = s.slice(0, i);
  return s;
}

export class Distribution {
  readonly client: RegistryClient;
  /** Blobs and layers of pulls in flight (protected from failure cleanup of other pulls). */
  readonly inflight = new InFlight();
  private readonly puller: Puller;
  private readonly pusher: Pusher;

  constructor(deps: DistributionDeps) {
    this.client = new RegistryClient(deps.cfg);
    this.puller = new Puller({ ...deps, client: this.client, inflight: this.inflight });
    this.pusher = new Pusher({ ...deps, client: this.client });
  }

  pull(req: PullRequest): Promise<void> {
    return this.puller.pull(req);
  }

  push(req: PushRequest): Promise<void> {
    return this.pusher.push(req);
  }

  /** POST /auth: checks the credentials with the registry (Docker Hub when serveraddress is empty). */
  async login(body: unknown, signal?: AbortSignal): Promise<{ IdentityToken: string; Status: string }> {
    const auth: AuthConfig = parseAuthConfig(body);
    let host = serverHost(auth.serveraddress ?? '') || serverHost(DOCKER_HUB_INDEX);
    if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'docker.io') host = 'docker.io';
    const r = await this.client.login(host, auth, signal);
    return { IdentityToken: r.identityToken, Status: 'Login Succeeded' };
  }
}
