/**
 * The snapshot: the model as of the last generated migration, committed beside the model
 * (EF Core's ModelSnapshot, drizzle-kit's `meta/*_snapshot.json`). `diff` compares the model with
 * it — pure and offline; `check` proves model, snapshot and migrations agree.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { ModelError } from './model-error.js';
import type { ModelColumn, ModelScope, SchemaModel } from './model-types.js';
import { validateModel } from './validate-model.js';

export interface Snapshot {
  readonly version: 1;
  /** The migration this snapshot is the state after (null: recorded without a migration). */
  readonly migration: string | null;
  readonly model: SchemaModel;
}

const unrenamed = <T extends { readonly renamedFrom?: string }>({ renamedFrom: _r, ...item }: T): Omit<T, 'renamedFrom'> => item;

/** The model as a snapshot stores it: no `renamedFrom` (a rename is history, not state). */
export function snapshotModel(model: SchemaModel): SchemaModel {
  return {
    scope: model.scope,
    tables: model.tables.map(({ renamedFrom: _t, ...t }) => ({
      ...t,
      columns: t.columns.map((c): ModelColumn => unrenamed(c)),
      ...(t.primaryKey ? { primaryKey: unrenamed(t.primaryKey) } : {}),
      uniques: t.uniques.map(unrenamed),
      checks: t.checks.map(unrenamed),
      foreignKeys: t.foreignKeys.map(unrenamed),
      indexes: t.indexes.map(unrenamed),
    })),
    ...(model.views && model.views.length > 0 ? { views: model.views } : {}),
    ...(model.sequences && model.sequences.length > 0 ? { sequences: model.sequences } : {}),
    ...(model.routines && model.routines.length > 0 ? { routines: model.routines } : {}),
  };
}

export const emptyModel = (scope: ModelScope): SchemaModel => ({ scope, tables: [] });

/** The snapshot at `file`, or undefined when there is none yet. */
export async function readSnapshot(file: string, relFile: string, scope: ModelScope): Promise<Snapshot | undefined> {
  if (!existsSync(file)) return undefined;
  let raw: { version?: unknown; migration?: unknown; model?: unknown };
  try {
    raw = JSON.parse(await readFile(file, 'utf8')) as typeof raw;
  } catch (err) {
    throw new ModelError(relFile, [`invalid JSON: ${(err as Error).message}`]);
  }
  if (raw.version !== 1) throw new ModelError(relFile, [`version: expected 1, got ${JSON.stringify(raw.version)}`]);
  const model = validateModel(raw.model, `${relFile} (model)`);
  if (model.scope !== scope) throw new ModelError(relFile, [`model.scope: is "${model.scope}", expected "${scope}"`]);
  return { version: 1, migration: typeof raw.migration === 'string' ? raw.migration : null, model };
}

export async function writeSnapshot(file: string, migration: string | null, model: SchemaModel): Promise<void> {
  const snapshot: Snapshot = { version: 1, migration, model: snapshotModel(model) };
  await writeFile(file, `${JSON.stringify(snapshot, null, 2)}\n`);
}
