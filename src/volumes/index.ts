// Volumes: the local driver and volume service, the volume-aware mount
// provider, and the scoped filesystem access shared with docker cp.
export { VolumeService, LOCAL_DRIVER, VOLUME_NAME_RE, parseMountOptions, type VolumeRecord, type VolumeView, type CreateVolumeOptions } from './service';
export { VolumeMounts, parseBindSpec, parseMountSpec, mountPointsOf, copyUp, type MountPoint, type ContainerLookup } from './mounts';
export { ScopedFs, ScopedWriter, walkEntries, treeSize, cleanPath, type ScopeMount, type EntryHeader } from './scoped-fs';
