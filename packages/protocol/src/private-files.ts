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
