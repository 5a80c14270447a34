// Public surface of the Docker Engine API client.
export { Client, CLIENT_API_VERSION, compareVersions, encodeFilters } from './client';
export type { AttachOptions, ClientOptions, Filters, InspectResult, LogsOptions } from './client';
export { ApiError, ConnectionError, isConflict, isNotFound } from './errors';
export { DEFAULT_HOST, parseHost, resolveHost } from './host';
export type { HostSpec } from './host';
export { encodeFrame, FrameDemuxer, STDERR, STDIN, STDOUT, SYSERR } from './stdcopy';
export { encodeQuery, escapePath, queryEscape, readAll, Transport } from './transport';
export type { Hijacked, Query, RequestOptions, StreamResponse, TlsConfig } from './transport';
export * from './types';
