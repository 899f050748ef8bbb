// Wire schemas of services' private files: listed by name, size and hash, never their content.
import { type Static, Type } from 'typebox';

export const PrivateFile = Type.Object({
  path: Type.String({ description: 'Relative path inside the version tree, e.g. `conf/license.key`' }),
  size: Type.Integer({ description: 'Bytes' }),
  sha256: Type.String({ description: 'Hex sha256 of the content, to check an upload against a local file' }),
  updatedAt: Type.String(),
  updatedBy: Type.String(),
});
export type PrivateFile = Static<typeof PrivateFile>;

export const PrivateFileList = Type.Object({ files: Type.Array(PrivateFile) });
export type PrivateFileList = Static<typeof PrivateFileList>;

export const privateFileLimits = {
  /** One file: keys, licences and passwords are small; build inputs belong in the source repository. */
  bytes: 1024 * 1024,
  perService: 200,
  pathBytes: 512,
  pathSegments: 16,
};

const hasControlOrBackslash = (path: string) =>
  [...path].some((ch) => ch === '\\' || (ch.codePointAt(0) as number) < 0x20 || ch.codePointAt(0) === 0x7f);

/**
 * Why `path` cannot name a private file (a relative POSIX path without `.`/`..` or empty segments,
 * backslashes or control characters, within the limits), or undefined when it can.
 */
export function privatePathProblem(path: string): string | undefined {
  const segments = path.split('/');
  const problems: Array<[boolean, string]> = [
    [path.length === 0, 'is empty'],
    [
      new TextEncoder().encode(path).length > privateFileLimits.pathBytes,
      `is longer than ${privateFileLimits.pathBytes} bytes`,
    ],
    [path.startsWith('/'), 'must be relative (no leading /)'],
    [hasControlOrBackslash(path), 'may not hold a backslash or control character'],
    [segments.some((s) => s === '' || s === '.' || s === '..'), 'may not hold empty, `.` or `..` segments'],
    [segments.length > privateFileLimits.pathSegments, `has more than ${privateFileLimits.pathSegments} segments`],
  ];
  return problems.find(([bad]) => bad)?.[1];
}
