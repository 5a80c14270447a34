// Public face of the builder: Dockerfile parsing (dockerfile/), the build
// context and .dockerignore, planning with cache keys, execution, and the
// service the API's POST /build and POST /build/prune call.
export { Builder, StepError, type BuilderDeps, type BuildResult, type BuildCacheUsage } from './builder';
export type { BuildContainers, BuildOptions, BuildOutput } from './executor';
export { parseDockerfile, DockerfileError, extractBuilderFlags, type Node, type Heredoc, type ParseResult } from './dockerfile/parser';
export { parseStages, parseInstruction, parseWords, type Dockerfile, type Stage, type Instruction } from './dockerfile/instructions';
export { processWord, processWords, expandHeredoc, envFromList, ShellLexError } from './dockerfile/shell-lex';
export { PatternMatcher, parseDockerignore, globToRegExp } from './dockerignore';
export { BuildContext, cleanContextPath } from './context';
export { planBuild, evalMetaArgs, cacheKey } from './plan';
