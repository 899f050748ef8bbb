import { type Static, Type } from 'typebox';

/** What can be deleted and restored while the trash retention (7 days by default) lasts. */
export const TrashKind = Type.Union([
  Type.Literal('service'),
  Type.Literal('profile'),
  Type.Literal('environment'),
  Type.Literal('version'),
]);
export type TrashKind = Static<typeof TrashKind>;

export const TrashItem = Type.Object({
  id: Type.String(),
  kind: TrashKind,
  /** The service, profile or environment; for a version, its service. */
  name: Type.String(),
  version: Type.Union([Type.String(), Type.Null()]),
  deletedAt: Type.String(),
  deletedBy: Type.String(),
  /** When the sweep purges it for good. */
  purgeAfter: Type.String(),
});
export type TrashItem = Static<typeof TrashItem>;

export const TrashList = Type.Object({ items: Type.Array(TrashItem) });
export type TrashList = Static<typeof TrashList>;

export const TrashQuery = Type.Object({ kind: Type.Optional(TrashKind) });
export type TrashQuery = Static<typeof TrashQuery>;
