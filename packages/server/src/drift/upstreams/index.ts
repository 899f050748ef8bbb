export * from './cache.ts';
export { type EndOfLifeOptions, type EndOfLifeRef, endOfLifeProvider } from './endoflife.ts';
export { UpstreamError, type UpstreamErrorKind } from './fetcher.ts';
export { type GithubOptions, type GithubRef, githubProvider } from './github.ts';
export { type GitlabOptions, type GitlabRef, gitlabProvider } from './gitlab.ts';
export { type HelmOptions, type HelmRef, helmProvider } from './helm.ts';
export { type NpmOptions, type NpmRef, npmProvider } from './npm.ts';
export { type OciOptions, type OciRef, ociProvider, parseImage, type RegistryAccess } from './oci.ts';
export type * from './types.ts';
