import { Router, createHttpHandler } from './server';
import type { Backends } from './backends';
import { containerRoutes } from './routes/containers';
import { imageRoutes } from './routes/images';
import { systemRoutes } from './routes/system';

export { API_VERSION, MIN_API_VERSION, ENGINE_VERSION, createHttpHandler, Router } from './server';
export type { Backends, SystemBackend, ContainerBackend, ImageBackend, Hijack } from './backends';

export function buildRouter(b: Backends): Router {
  const r = new Router();
  systemRoutes(r, b.system);
  containerRoutes(r, b.containers);
  imageRoutes(r, b.images);
  return r;
}
