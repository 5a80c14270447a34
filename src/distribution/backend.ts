// The API backend for registries and archives, built over the image store:
// what src/api/routes/distribution.ts calls. Kept here so the daemon's
// composition root only has to hand over the image service and its paths.
import type { Readable } from 'node:stream';
import type { DistributionBackend } from '../api/backends';
import { log } from '../common/log';
import type { ImageService } from '../images';
import { loadImages } from '../images/archive-load';
import { saveImages } from '../images/archive-save';
import { DistributionMeta } from '../images/distribution-meta';
import { decodeRegistryAuth } from './auth';
import { loadRegistryConfig, type RegistryConfig } from './config';
import { Distribution } from './index';
import { ProgressOutput } from './progress';

export interface DistributionBackendOptions {
  images: ImageService;
  dataRoot: string;
  /** The daemon's config file (registry keys; certs.d beside it). */
  configFile?: string;
  /** Overrides of the registry settings (tests). */
  registry?: Partial<RegistryConfig>;
}

export function createDistributionBackend(o: DistributionBackendOptions): DistributionBackend & { distribution: Distribution; meta: DistributionMeta } {
  const meta = new DistributionMeta(o.dataRoot);
  try {
    meta.prune((id) => o.images.tryGet(id) !== undefined);
  } catch (e) {
    log.warn('could not prune distribution metadata', { err: e instanceof Error ? e.message : String(e) });
  }
  const cfg = { ...loadRegistryConfig(o.configFile), ...(o.registry ?? {}) };
  const distribution = new Distribution({ images: o.images, meta, cfg });
  return {
    distribution,
    meta,
    pull: (req, write, signal) => distribution.pull({
      fromImage: req.fromImage, ...(req.tag ? { tag: req.tag } : {}), ...(req.platform ? { platform: req.platform } : {}),
      auth: decodeRegistryAuth(req.authHeader), out: new ProgressOutput(write), signal,
    }),
    push: (req, write, signal) => distribution.push({
      name: req.name, ...(req.tag ? { tag: req.tag } : {}), auth: decodeRegistryAuth(req.authHeader), out: new ProgressOutput(write), signal,
    }),
    login: (body) => distribution.login(body),
    save: (names): Promise<Readable> => saveImages(o.images, meta, names),
    load: (body, opts, write) => loadImages(o.images, body, opts, write),
  };
}
