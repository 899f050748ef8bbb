// The build spec `update.json` as the vUpdate builder reads it: how a service's version is built from
// its source repositories and how the result installs and runs. Sizes are bounded so a hostile
// repository cannot make the builder allocate without limit.
import { type Static, Type } from 'typebox';
import { InstallManifest, restartConditionFields } from './catalog.ts';

const maxText = 8192;
const Text = Type.String({ maxLength: maxText });
const Path = Type.String({ minLength: 1, maxLength: 4096 });

// `env` and `settings` are written either as one object or as a list of one-entry objects.
const NameValues = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Text, { maxProperties: 1000 });
const NameValueList = Type.Union([NameValues, Type.Array(NameValues, { maxItems: 1000 })]);

export const SpecCommand = Type.Object(
  {
    command: Type.String({ minLength: 1, maxLength: 4096 }),
    args: Type.Optional(Type.Array(Text, { maxItems: 1000 })),
    env: Type.Optional(NameValueList),
    directory: Type.Optional(Path),
    exitCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 255, description: 'Expected exit code (default 0)' })),
    outputMatch: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'RE2 regular expression over stdout and stderr' }),
    ),
  },
  { additionalProperties: false },
);
export type SpecCommand = Static<typeof SpecCommand>;

export const SpecCopyFile = Type.Object(
  {
    sourceFile: Path,
    destinationFile: Path,
    except: Type.Optional(Type.Array(Path, { maxItems: 1000 })),
    settings: Type.Optional(NameValueList),
  },
  { additionalProperties: false },
);
export type SpecCopyFile = Static<typeof SpecCopyFile>;

const Commands = Type.Array(SpecCommand, { maxItems: 200 });

export const SpecRunService = Type.Object(
  {
    command: Type.String({ minLength: 1, maxLength: 4096 }),
    args: Type.Optional(Type.Array(Text, { maxItems: 1000 })),
    writeLogs: Type.Optional(
      Type.Object(
        {
          directory: Type.Optional(Path),
          filePrefix: Type.Optional(Type.String({ maxLength: 256 })),
          maxFileSizeMB: Type.Optional(Type.Integer({ minimum: 1 })),
          maxFilesCount: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    uploadLogs: Type.Optional(Type.Boolean()),
    faultFilesMatch: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    restartOnFault: Type.Optional(Type.Boolean()),
    restartConditions: Type.Optional(Type.Object(restartConditionFields, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type SpecRunService = Static<typeof SpecRunService>;

export const SpecInstall = Type.Object(
  {
    installCommands: Type.Optional(Commands),
    postInstallCommands: Type.Optional(Commands),
    runService: Type.Optional(SpecRunService),
  },
  { additionalProperties: false },
);
export type SpecInstall = Static<typeof SpecInstall>;

export const SpecBuild = Type.Object(
  {
    buildCommands: Type.Optional(Commands),
    copyFiles: Type.Optional(Type.Array(SpecCopyFile, { maxItems: 1000 })),
    install: Type.Optional(SpecInstall),
  },
  { additionalProperties: false },
);
export type SpecBuild = Static<typeof SpecBuild>;

/** `update.json` at the root of a service's main repository. */
export const UpdateSpec = Type.Object(
  {
    update: Type.Array(
      Type.Object(
        { service: Type.String({ minLength: 1, maxLength: 256 }), build: Type.Optional(SpecBuild) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);
export type UpdateSpec = Static<typeof UpdateSpec>;

/** Largest `update.json` the builder reads. */
export const maxSpecBytes = 1024 * 1024;

/**
 * `flotilla-build.json`, the native spec: the same build section as update.json, and the version's
 * flotilla.json as it is (every manifest field, health probes included) instead of `install`.
 */
export const NativeBuildSpec = Type.Object(
  {
    builds: Type.Array(
      Type.Object(
        {
          service: Type.String({ minLength: 1, maxLength: 256 }),
          build: Type.Optional(
            Type.Object(
              {
                buildCommands: Type.Optional(Commands),
                copyFiles: Type.Optional(Type.Array(SpecCopyFile, { maxItems: 1000 })),
              },
              { additionalProperties: false },
            ),
          ),
          manifest: Type.Optional(InstallManifest),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
  },
  { additionalProperties: false },
);
export type NativeBuildSpec = Static<typeof NativeBuildSpec>;
