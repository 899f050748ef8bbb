import {
  AliasNode,
  ColumnNode,
  DeleteQueryNode,
  InsertQueryNode,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  TableNode,
  type UnknownRow,
  UpdateQueryNode,
} from 'kysely';

/**
 * Tells listeners before and after a statement writes one of the tables they watch (insert, update
 * or delete built with Kysely; raw SQL is not seen; updates of `last_used_at` alone do not count).
 * Lets an in-process cache of rows drop what may be stale.
 */
export function tableWriteWatcher() {
  const listeners: Array<{ tables: ReadonlySet<string>; listener: () => void }> = [];
  const pending = new Map<unknown, string[]>();

  const plugin: KyselyPlugin = {
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      const tables = writtenTables(args.node);
      if (tables.length > 0 && listeners.length > 0) {
        pending.set(args.queryId, tables);
        notify(tables);
      }
      return args.node;
    },
    async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      const tables = pending.get(args.queryId);
      if (tables) {
        pending.delete(args.queryId);
        notify(tables);
      }
      return args.result;
    },
  };

  function notify(tables: string[]) {
    for (const { tables: watched, listener } of listeners) if (tables.some((t) => watched.has(t))) listener();
  }

  return {
    plugin,
    /** Calls `listener` before and after every statement that writes one of `tables`. */
    watch(tables: string[], listener: () => void): void {
      listeners.push({ tables: new Set(tables), listener });
    },
  };
}

function tableName(node: OperationNode | undefined): string | undefined {
  if (!node) return undefined;
  if (TableNode.is(node)) return node.table.identifier.name;
  if (AliasNode.is(node)) return tableName(node.node);
  return undefined;
}

/** A statement that only records when something was last used changes nothing a cache holds. */
function onlyLastUse(node: UpdateQueryNode): boolean {
  const columns = (node.updates ?? []).map((u) => (ColumnNode.is(u.column) ? u.column.column.name : ''));
  return columns.length > 0 && columns.every((c) => c === 'last_used_at');
}

function writtenTables(node: RootOperationNode): string[] {
  let nodes: ReadonlyArray<OperationNode | undefined> = [];
  if (InsertQueryNode.is(node)) nodes = [node.into];
  else if (UpdateQueryNode.is(node) && !onlyLastUse(node)) nodes = [node.table];
  else if (DeleteQueryNode.is(node)) nodes = node.from.froms;
  return nodes.map(tableName).filter((t): t is string => t !== undefined);
}
