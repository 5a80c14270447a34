export { Runc, cleanRuncError } from './runc';
export { conmonCreate, conmonExec } from './conmon';
export type { ContainerConmonOpts, ExecConmonOpts, ExecHandle, ConmonCommon } from './conmon';
export { buildSpec, buildExecProcess, capNames, effectiveCapabilities, hostCapabilities, defaultCapabilities } from './spec';
export type { SpecInput, OciMount } from './spec';
