export { checkForUpgrade } from './check.ts';
export { startUpgradeChecker, type UpgradeChecker, type UpgradeCheckerOptions } from './checker.ts';
export { UpgradeCheckError, type UpgradeCheckErrorKind } from './errors.ts';
export { type InstanceIdStorage, loadOrCreateInstanceId, webStorageInstanceIdStorage } from './instance-id.ts';
export { resolveCheckUrl } from './request.ts';
export type { ExtraFieldValue, UpgradeCheckOptions, UpgradeCheckResult, VersionInfo } from './types.ts';
export { compareVersions, type ParsedVersion, parseVersion } from './version.ts';
