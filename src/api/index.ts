import { Router, createHttpHandler } from './server';
import type { Backends } from './backends';
import { buildRoutes } from './routes/build';
import { containerRoutes } from './routes/containers';
import { distributionRoutes } from './routes/distribution';
import { filesystemRoutes } from './routes/filesystem';
import { imageRoutes } from './routes/images';
import { networkRoutes } from './routes/networks';
import { systemRoutes } from './routes/system';
import { volumeRoutes } from './routes/volumes';

export { API_VERSION, MIN_API_VERSION, ENGINE_VERSION, createHttpHandler, Router } from './server';
export type { Backends, SystemBackend, ContainerBackend, ImageBackend, DistributionBackend, NetworkBackend, VolumeBackend, FilesystemBackend, BuildBackend, BuildRequest, BuildWriter, Hijack } from './backends';

export function buildRouter(b: Backends): Router {
  const r = new Router();
  systemRoutes(r, b.system);
  containerRoutes(r, b.containers);
  // Pull shares POST /images/create with import (fromSrc): it is registered first and hands import requests on.
  const importRoute = (() => { const x = new Router(); imageRoutes(x, b.images); const m = x.match('POST', '/images/create'); return m && m !== 'method' ? m.handler : undefined; })();
  distributionRoutes(r, b.distribution, importRoute);
  imageRoutes(r, b.images);
  networkRoutes(r, b.networks);
  volumeRoutes(r, b.volumes);
  filesystemRoutes(r, b.filesystem);
  buildRoutes(r, b.build);
  return r;
}
