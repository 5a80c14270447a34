// Public face of the image store (see service.ts for the on-disk layout).
export {
  createImageService, MEDIA_TYPE_LAYER,
  type ImageService, type ImageRecord, type LayerRef, type ImportOptions, type CreateImageOptions, type RemoveOptions, type DeleteItem,
} from './service';
export { applyChanges, processWord } from './changes';
export {
  DOCKER_VERSION, ZERO_TIME, parseImageConfig, parseContainerConfig, renderContainerConfig, serializeImageConfig, goJson,
  parsePlatform, hostArch, formatTimeNs, parseTimeNs, normalizeTime, unixSeconds, nowNs,
  type ImageConfig, type ContainerConfig, type HealthConfig, type HistoryEntry, type Platform,
} from './config';
