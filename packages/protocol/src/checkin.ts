import { type Static, Type } from 'typebox';

/**
 * One entry of an upgrade-responder response config (`response-config.json`). Keys are matched
 * without regard to case when the file is read, as upgrade-responder's Go decoder does.
 */
export const VersionEntry = Type.Object({
  name: Type.String({ minLength: 1 }),
  releaseDate: Type.String(),
  minUpgradableVersion: Type.Optional(Type.String()),
  tags: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  extraInfo: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
});
export type VersionEntry = Static<typeof VersionEntry>;

export const ResponseConfig = Type.Object({
  versions: Type.Array(VersionEntry, { minItems: 1 }),
});
export type ResponseConfig = Static<typeof ResponseConfig>;

export const FieldDataType = Type.Union([Type.Literal('string'), Type.Literal('float'), Type.Literal('boolean')]);
export type FieldDataType = Static<typeof FieldDataType>;

export const ValueSchema = Type.Object({
  dataType: FieldDataType,
  maxLen: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type ValueSchema = Static<typeof ValueSchema>;

/** upgrade-responder's `request-schema.json`. */
export const RequestSchema = Type.Object({
  appVersionSchema: Type.Optional(ValueSchema),
  extraTagInfoSchema: Type.Optional(Type.Record(Type.String(), ValueSchema)),
  extraFieldInfoSchema: Type.Optional(Type.Record(Type.String(), ValueSchema)),
});
export type RequestSchema = Static<typeof RequestSchema>;

/**
 * The check-upgrade request. Field types are checked by hand in the server, because upgrade-responder
 * answers 400 only for some wrong types and drops others; this schema documents the wire shape.
 */
export const CheckUpgradeRequest = Type.Object({
  appVersion: Type.Optional(Type.String()),
  extraTagInfo: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
  extraFieldInfo: Type.Optional(
    Type.Union([Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])), Type.Null()]),
  ),
  extraInfo: Type.Optional(Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()])),
  instanceId: Type.Optional(
    Type.String({ description: 'Optional anonymous instance id, counted without being stored' }),
  ),
});
export type CheckUpgradeRequest = Static<typeof CheckUpgradeRequest>;

export const CheckUpgradeVersion = Type.Object({
  name: Type.String(),
  releaseDate: Type.String(),
  minUpgradableVersion: Type.String(),
  tags: Type.Array(Type.String()),
  extraInfo: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()]),
});
export type CheckUpgradeVersion = Static<typeof CheckUpgradeVersion>;

/** The camelCase answer (upgrade-responder v0.2.0 and later). */
export const CheckUpgradeResponse = Type.Object({
  versions: Type.Array(CheckUpgradeVersion),
  requestIntervalInMinutes: Type.Integer(),
});
export type CheckUpgradeResponse = Static<typeof CheckUpgradeResponse>;

export type ResponseCasing = 'camel' | 'pascal';
