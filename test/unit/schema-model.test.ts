/**
 * Schema as code, pure parts: model validation (every problem with its path), snapshot → model
 * diff (each change kind, renames only from renamedFrom, refusals of destructive changes), and
 * golden files of a generated migration and its T-SQL / PostgreSQL renderings.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { migrationTemplates } from '../../src/declarative/generate-migration.js';
import { describeChange } from '../../src/declarative/schema-changes.js';
import { diffModels, isWidening } from '../../src/declarative/schema-diff.js';
import { syntaxFor } from '../../src/dialect/syntax-registry.js';
import { col, defineSchema, sql, table } from '../../src/schema-model/index.js';
import { ModelError } from '../../src/schema-model/model-error.js';
import type { SchemaModel } from '../../src/schema-model/model-types.js';
import { snapshotModel } from '../../src/schema-model/snapshot.js';
import { validateModel } from '../../src/schema-model/validate-model.js';
import { TemplateEngine, sampleRenderContext } from '../../src/templating/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const GOLDEN = path.join(ROOT, 'test/fixtures/golden/schema-diff');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const jobs = (extra: Record<string, ReturnType<typeof col.int>> = {}, opts: { priorityIndex?: boolean; name?: number } = {}) =>
  table('jobs', {
    columns: { job_id: col.uuid().default(sql.newid, 'df_jobs_id'), name: col.nvarchar(opts.name ?? 200), status: col.nvarchar(20).default('active'), ...extra },
    primaryKey: { name: 'pk_jobs', columns: ['job_id'] },
    checks: [{ name: 'ck_jobs_status', expression: "status IN ('active', 'paused')" }],
    indexes: opts.priorityIndex ? [{ name: 'ix_jobs_status', columns: ['status'] }] : [],
  });

const runs = table('runs', {
  columns: { run_id: col.uuid(), job_id: col.uuid(), started_utc: col.datetime2().default(sql.utcnow) },
  primaryKey: { name: 'pk_runs', columns: ['run_id'] },
  foreignKeys: [{ name: 'fk_runs_job', columns: ['job_id'], references: { table: 'jobs', columns: ['job_id'] }, onDelete: 'cascade' }],
});

const model = (...tables: SchemaModel['tables']): SchemaModel => validateModel(defineSchema({ scope: 'tenant', tables }), 'test');
const words = (from: SchemaModel, to: SchemaModel, allow: string[] = []) => {
  const d = diffModels(snapshotModel(from), to, { allow: new Set(allow as never[]) });
  return { changes: d.changes.map(describeChange), refused: d.refused.map((r) => r.allow) };
};

describe('model validation', () => {
  it('names every problem with its path', () => {
    const bad = defineSchema({
      scope: 'tenant',
      tables: [
        table('jobs', {
          columns: { job_id: col.uuid().nullable(), 'bad name': col.int(), kind: col.raw('postgres:smallint') },
          primaryKey: { name: 'pk_jobs', columns: ['job_id'] },
          indexes: [{ name: 'pk_jobs', columns: ['nope' as 'job_id'] }],
          foreignKeys: [{ name: 'fk_x', columns: ['job_id'], references: { table: 'missing', columns: ['id'] }, onDelete: 'set null' }],
        }),
      ],
    });
    let issues: readonly string[] = [];
    try {
      validateModel(bad, 'schema/tenant.ts');
    } catch (err) {
      issues = (err as ModelError).issues;
    }
    expect(issues).toEqual(['tables.jobs.columns.bad name.name: must be a plain identifier: letters, digits and _, at most 63 characters']);
    const fixed = { ...bad, tables: [{ ...bad.tables[0]!, columns: bad.tables[0]!.columns.filter((c) => c.name !== 'bad name') }] };
    expect(() => validateModel(fixed, 'x')).toThrow(ModelError);
    try {
      validateModel(fixed, 'x');
    } catch (err) {
      expect((err as ModelError).issues).toEqual([
        'tables.jobs.primaryKey.columns: column "job_id" is nullable (primary key columns are NOT NULL)',
        'tables.jobs.indexes.pk_jobs.columns: unknown column "nope"',
        'tables.jobs.foreignKeys.fk_x.references.table: unknown table "missing"',
        'tables.jobs.indexes.pk_jobs: name "pk_jobs" is used by tables.jobs.primaryKey too (constraint and index names are unique per schema)',
      ]);
    }
  });

  it('an index key is a column or an expression: an expression is not checked against the columns, but must not be empty, and a unique expression index is no foreign-key target', () => {
    const model = (key: unknown, fkTarget = false) => ({
      scope: 'tenant',
      tables: [
        { name: 'users', columns: [{ name: 'id', type: 'int', nullable: false }, { name: 'email', type: 'text', nullable: false }], uniques: [], checks: [], foreignKeys: [], indexes: [{ name: 'ix_users_email', columns: [key], unique: true }] },
        ...(fkTarget ? [{ name: 'logins', columns: [{ name: 'email', type: 'text', nullable: false }], uniques: [], checks: [], foreignKeys: [{ name: 'fk_logins_users', columns: ['email'], references: { table: 'users', columns: ['email'] }, onDelete: 'no action', onUpdate: 'no action' }], indexes: [] }] : []),
      ],
    });
    expect(validateModel(model({ expression: 'lower(email)', descending: true }), 'x').tables[0]!.indexes[0]!.columns).toEqual([{ expression: 'lower(email)', descending: true }]);
    expect(() => validateModel(model({ expression: { postgres: 'lower(email)' } }), 'x')).not.toThrow();
    expect(() => validateModel(model({ column: 'email' }, true), 'x')).not.toThrow();
    const issues = (m: unknown) => {
      try {
        validateModel(m, 'x');
        return [];
      } catch (err) {
        return (err as ModelError).issues;
      }
    };
    expect(issues(model({ expression: ' ' })).join('\n')).toContain('tables.users.indexes.ix_users_email.columns');
    expect(issues(model({ expression: { mssql: 'x' } })).length).toBeGreaterThan(0);
    expect(issues(model({ expression: 'lower(email)' }, true))).toEqual(['tables.logins.foreignKeys.fk_logins_users.references: (email) is not the primary key or a unique key of users']);
  });

  it('refuses multiple cascade paths (SQL Server error 1785)', () => {
    const a = table('a', { columns: { id: col.int() }, primaryKey: { name: 'pk_a', columns: ['id'] } });
    const b = table('b', { columns: { id: col.int(), a_id: col.int() }, primaryKey: { name: 'pk_b', columns: ['id'] }, foreignKeys: [{ name: 'fk_b_a', columns: ['a_id'], references: { table: 'a', columns: ['id'] }, onDelete: 'cascade' }] });
    const c = table('c', {
      columns: { id: col.int(), a_id: col.int(), b_id: col.int() },
      primaryKey: { name: 'pk_c', columns: ['id'] },
      foreignKeys: [
        { name: 'fk_c_a', columns: ['a_id'], references: { table: 'a', columns: ['id'] }, onDelete: 'cascade' },
        { name: 'fk_c_b', columns: ['b_id'], references: { table: 'b', columns: ['id'] }, onDelete: 'cascade' },
      ],
    });
    expect(() => model(a, b, c)).toThrow(/a second cascade path from a into c/);
  });
});

describe('snapshot → model diff', () => {
  const base = model(jobs(), runs);

  it('nothing to do', () => expect(words(base, base).changes).toEqual([]));

  it('add a column with a default, an index; widen a type', () => {
    const next = model(jobs({ priority: col.int().default(0) }, { priorityIndex: true, name: 400 }), runs);
    expect(words(base, next)).toEqual({
      changes: ['alter column jobs.name: type nvarchar(200) → nvarchar(400)', 'add column jobs.priority int NOT NULL', 'create index ix_jobs_status on jobs'],
      refused: [],
    });
  });

  it('refuses destructive changes unless allowed by name', () => {
    const next = model(jobs({ must: col.int() }, { name: 100 }));
    expect(words(base, next).refused.sort()).toEqual(['drop-table', 'narrow-type', 'not-null']);
    expect(words(base, next, ['drop-table', 'narrow-type', 'not-null']).refused).toEqual([]);
    const dropCol = model(table('jobs', { columns: { job_id: col.uuid().default(sql.newid, 'df_jobs_id'), name: col.nvarchar(200) }, primaryKey: { name: 'pk_jobs', columns: ['job_id'] } }), runs);
    expect(words(base, dropCol).refused).toEqual(['drop-column']);
  });

  it('renames only through renamedFrom', () => {
    const renamedTable = table('job_runs', { ...{ renamedFrom: 'runs' }, columns: { run_id: col.uuid(), job_id: col.uuid(), begun_utc: col.datetime2().default(sql.utcnow).renamedFrom('started_utc') }, primaryKey: { name: 'pk_runs', columns: ['run_id'] }, foreignKeys: [{ name: 'fk_runs_job', columns: ['job_id'], references: { table: 'jobs', columns: ['job_id'] }, onDelete: 'cascade' }] });
    expect(words(base, model(jobs(), renamedTable)).changes).toEqual(['rename table runs → job_runs', 'rename column job_runs.started_utc → begun_utc']);
    // The same shape without renamedFrom is a drop and a create: refused.
    const { renamedFrom: _r, ...plain } = renamedTable;
    const guessed = words(base, model(jobs(), { ...plain, columns: plain.columns.map(({ renamedFrom: _c, ...c }) => c) }));
    expect(guessed.changes).toContain('drop table runs');
    expect(guessed.refused).toEqual(['drop-table']);
  });

  it('renames constraints and indexes only through renamedFrom, of the same kind', () => {
    const from = model(jobs({}, { priorityIndex: true }), runs);
    const renamedJobs = table('jobs', {
      columns: { job_id: col.uuid().default(sql.newid, 'df_jobs_id'), name: col.nvarchar(200), status: col.nvarchar(20).default('active') },
      primaryKey: { name: 'pk_job', columns: ['job_id'], renamedFrom: 'pk_jobs' },
      checks: [{ name: 'ck_job_status', expression: "status IN ('active', 'paused')", renamedFrom: 'ck_jobs_status' }],
      indexes: [{ name: 'ix_job_status', columns: ['status'], renamedFrom: 'ix_jobs_status' }],
    });
    const renamedRuns = table('runs', {
      columns: { run_id: col.uuid(), job_id: col.uuid(), started_utc: col.datetime2().default(sql.utcnow) },
      primaryKey: { name: 'pk_runs', columns: ['run_id'] },
      foreignKeys: [{ name: 'fk_run_job', columns: ['job_id'], references: { table: 'jobs', columns: ['job_id'] }, onDelete: 'cascade', renamedFrom: 'fk_runs_job' }],
    });
    expect(words(from, model(renamedJobs, renamedRuns))).toEqual({
      // Foreign keys first: on Babelfish a renamed key is re-created with the foreign keys onto it, under their new names.
      changes: ['rename foreign key fk_runs_job → fk_run_job on runs', 'rename primary key pk_jobs → pk_job on jobs', 'rename check ck_jobs_status → ck_job_status on jobs', 'rename index ix_jobs_status → ix_job_status on jobs'],
      refused: [],
    });
    // Without renamedFrom: a drop and an add (not destructive, but not a rename either).
    const plain = words(from, snapshotModel(model(renamedJobs, renamedRuns)));
    expect(plain.changes).toContain('drop index ix_jobs_status on jobs');
    expect(plain.changes).toContain('create index ix_job_status on jobs');
    // renamedFrom naming an object of another kind is not a rename.
    const wrongKind = table('jobs', { columns: { job_id: col.uuid().default(sql.newid, 'df_jobs_id'), name: col.nvarchar(200), status: col.nvarchar(20).default('active') }, primaryKey: { name: 'pk_jobs', columns: ['job_id'] }, checks: [{ name: 'ck_jobs_status', expression: "status IN ('active', 'paused')" }], indexes: [{ name: 'ix_other', columns: ['status'], renamedFrom: 'ck_jobs_status' }] });
    expect(words(from, model(wrongKind, runs)).changes).toEqual(['drop index ix_jobs_status on jobs', 'create index ix_other on jobs']);
    // Once the snapshot has the new name, renamedFrom left in the model is ignored.
    const after = model(renamedJobs, renamedRuns);
    expect(words(after, after).changes).toEqual([]);
  });

  it('indexes and keys using an altered column are dropped and re-created around ALTER COLUMN (SQL Server), checks on both', () => {
    const from = model(jobs({}, { priorityIndex: true }), runs);
    const to = model(table('jobs', { ...{}, columns: { job_id: col.uuid().default(sql.newid, 'df_jobs_id'), name: col.nvarchar(200), status: col.nvarchar(40).default('active') }, primaryKey: { name: 'pk_jobs', columns: ['job_id'] }, checks: [{ name: 'ck_jobs_status', expression: "status IN ('active', 'paused')" }], indexes: [{ name: 'ix_jobs_status', columns: ['status'] }] }), runs);
    const d = diffModels(snapshotModel(from), to);
    expect(d.changes.map(describeChange)).toEqual([
      'alter column jobs.status: type nvarchar(20) → nvarchar(40)',
      'drop check ck_jobs_status on jobs',
      'drop index ix_jobs_status on jobs (SQL Server only)',
      'add check ck_jobs_status on jobs',
      'create index ix_jobs_status on jobs (SQL Server only)',
    ]);
  });

  it('identity added or removed: refused unless allowed by name; SQL Server rebuilds the table (add) or the column (remove)', () => {
    const counters = (id: ReturnType<typeof col.int>) =>
      table('counters', { columns: { counter_id: id, value: col.int() }, primaryKey: { name: 'pk_counters', columns: ['counter_id'] }, indexes: [{ name: 'ix_counters_value', columns: ['value'] }] });
    const hits = table('hits', {
      columns: { hit_id: col.uuid(), counter_id: col.bigint() },
      primaryKey: { name: 'pk_hits', columns: ['hit_id'] },
      foreignKeys: [{ name: 'fk_hits_counter', columns: ['counter_id'], references: { table: 'counters', columns: ['counter_id'] } }],
    });
    const plain = model(counters(col.bigint()), hits);
    const ident = model(counters(col.identity()), hits);
    expect(words(plain, ident)).toEqual({
      changes: [
        'alter column counters.counter_id: IDENTITY added',
        'rebuild table counters to add IDENTITY to counter_id (SQL Server only)',
        'drop primary key pk_counters on counters (SQL Server only)',
        'drop foreign key fk_hits_counter on hits (SQL Server only)',
        'drop index ix_counters_value on counters (SQL Server only)',
        'add primary key pk_counters on counters (SQL Server only)',
        'create index ix_counters_value on counters (SQL Server only)',
        'add foreign key fk_hits_counter on hits (SQL Server only)',
      ],
      refused: ['identity'],
    });
    expect(words(plain, ident, ['identity']).refused).toEqual([]);
    // Removing it: the column is rebuilt on SQL Server, so what uses it is dropped and re-created there.
    expect(words(ident, plain)).toEqual({
      changes: [
        'alter column counters.counter_id: IDENTITY removed',
        'drop primary key pk_counters on counters (SQL Server only)',
        'drop foreign key fk_hits_counter on hits (SQL Server only)',
        'add primary key pk_counters on counters (SQL Server only)',
        'add foreign key fk_hits_counter on hits (SQL Server only)',
      ],
      refused: ['identity'],
    });
    // An identity column is NOT NULL.
    expect(() => model(counters(col.identity().nullable()))).toThrow(/counter_id.nullable: an identity column is NOT NULL/);
  });

  it('computed columns: added, changed (dropped and added, with what uses them), and a stored column becoming computed refused as a drop', () => {
    const items = (total?: ReturnType<typeof col.int>) =>
      table('items', {
        columns: { item_id: col.uuid(), price: col.decimal(18, 2), quantity: col.int(), ...(total ? { total } : {}) },
        primaryKey: { name: 'pk_items', columns: ['item_id'] },
        indexes: total ? [{ name: 'ix_items_total', columns: ['total' as 'item_id'] }] : [],
      });
    const none = model(items());
    const v1 = model(items(col.decimal(18, 2).computed('price * quantity')));
    const v2 = model(items(col.decimal(18, 2).computed('price * quantity', { persisted: true })));
    const stored = model(items(col.decimal(18, 2).nullable()));
    expect(words(none, v1)).toEqual({ changes: ['add computed column items.total decimal(18,2)', 'create index ix_items_total on items'], refused: [] });
    expect(words(v1, v2)).toEqual({
      changes: ['drop column items.total', 'add computed column items.total decimal(18,2) PERSISTED', 'drop index ix_items_total on items', 'create index ix_items_total on items'],
      refused: [],
    });
    expect(words(stored, v1).refused).toEqual(['drop-column']);
    expect(words(v1, stored)).toEqual({ changes: ['drop column items.total', 'add column items.total decimal(18,2) NULL', 'drop index ix_items_total on items', 'create index ix_items_total on items'], refused: [] });
    expect(() => model(table('x', { columns: { a: col.int(), b: col.int().computed('a + 1').default(0) } }))).toThrow(/columns.b.default: a computed column has no default/);
  });

  it('type widening rules', () => {
    expect(isWidening('nvarchar(50)', 'nvarchar(max)')).toBe(true);
    expect(isWidening('int', 'bigint')).toBe(true);
    expect(isWidening('decimal(10,2)', 'decimal(12,2)')).toBe(true);
    expect(isWidening('nvarchar(50)', 'varchar(50)')).toBe(false);
    expect(isWidening('bigint', 'int')).toBe(false);
    expect(isWidening('datetime2', 'datetime2(3)')).toBe(false);
  });
});

/** Generate snapshot → model, render both files for both dialects, compare with (or write) the golden files. */
async function matchGolden(id: string, from: SchemaModel, to: SchemaModel, allow: string[]): Promise<void> {
  const t = migrationTemplates(snapshotModel(from), to, id, new Set(allow as never[]));
  expect(t.diff.refused).toEqual([]);
  const engine = await TemplateEngine.create();
  const files: Record<string, string> = { [`${id}.sql.hbs`]: t.up, [`${id}.down.sql.hbs`]: t.down };
  for (const dialect of ['mssql', 'postgres'] as const) {
    const ctx = sampleRenderContext(syntaxFor(dialect), 'pmassist_master');
    files[`${id}.${dialect}.sql`] = engine.render({ path: 'up', source: t.up, isTemplate: true }, ctx);
    files[`${id}.down.${dialect}.sql`] = engine.render({ path: 'down', source: t.down, isTemplate: true }, ctx);
  }
  if (UPDATE) await mkdir(GOLDEN, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(GOLDEN, name);
    if (UPDATE) await writeFile(file, text);
    else expect(text, name).toBe(await readFile(file, 'utf8'));
  }
}

describe('generated migration (golden)', () => {
  const from = model(jobs({ legacy: col.int().nullable() }, { priorityIndex: true }), runs);
  const to = model(
    table('jobs', {
      columns: {
        job_id: col.uuid().default(sql.newid, 'df_jobs_id'),
        name: col.nvarchar(400),
        status: col.nvarchar(40).default('active'),
        priority: col.int().default(0, 'df_jobs_priority'),
        note: col.nvarchar(100).nullable().renamedFrom('legacy' as never),
      },
      primaryKey: { name: 'pk_jobs', columns: ['job_id'] },
      checks: [{ name: 'ck_jobs_status', expression: "status IN ('active', 'paused', 'disabled')" }],
      indexes: [{ name: 'ix_jobs_status', columns: ['status', { column: 'priority', descending: true }], include: ['name'], where: 'status IS NOT NULL' }],
    }),
    runs,
    table('job_tags', {
      columns: { job_id: col.uuid(), tag: col.nvarchar(50), is_hidden: col.bit().default(false) },
      primaryKey: { name: 'pk_job_tags', columns: ['job_id', 'tag'] },
      foreignKeys: [{ name: 'fk_job_tags_job', columns: ['job_id'], references: { table: 'jobs', columns: ['job_id'] }, onDelete: 'cascade' }],
    }),
  );

  it('template, down template and both renderings match their golden files', async () => {
    await matchGolden('0003_job_changes', from, to, ['narrow-type']);
  });

  it('identity added and removed, a computed column, renamed constraints and indexes: template, down and renderings match their golden files', async () => {
    const before = model(
      jobs({}, { priorityIndex: true }),
      runs,
      table('counters', { columns: { counter_id: col.bigint(), label: col.nvarchar(50).default('none') }, primaryKey: { name: 'pk_counters', columns: ['counter_id'] } }),
      table('events', { columns: { event_id: col.identity(), kind: col.nvarchar(20) }, primaryKey: { name: 'pk_events', columns: ['event_id'] } }),
    );
    const after = model(
      table('jobs', {
        columns: {
          job_id: col.uuid().default(sql.newid, 'df_jobs_id'),
          name: col.nvarchar(200),
          status: col.nvarchar(20).default('active'),
          name_length: col.int().computed({ mssql: 'LEN(name)', postgres: 'length(name)' }, { persisted: true }),
        },
        primaryKey: { name: 'pk_jobs', columns: ['job_id'] },
        checks: [{ name: 'ck_jobs_state', expression: "status IN ('active', 'paused')", renamedFrom: 'ck_jobs_status' }],
        indexes: [{ name: 'ix_jobs_state', columns: ['status'], renamedFrom: 'ix_jobs_status' }],
      }),
      table('runs', {
        columns: { run_id: col.uuid(), job_id: col.uuid(), started_utc: col.datetime2().default(sql.utcnow) },
        primaryKey: { name: 'pk_runs', columns: ['run_id'] },
        foreignKeys: [{ name: 'fk_runs_jobs', columns: ['job_id'], references: { table: 'jobs', columns: ['job_id'] }, onDelete: 'cascade', renamedFrom: 'fk_runs_job' }],
      }),
      table('counters', { columns: { counter_id: col.identity(), label: col.nvarchar(50).default('none') }, primaryKey: { name: 'pk_counters', columns: ['counter_id'] } }),
      table('events', { columns: { event_id: col.bigint(), kind: col.nvarchar(20) }, primaryKey: { name: 'pk_events', columns: ['event_id'] } }),
    );
    await matchGolden('0004_identity_computed_renames', before, after, ['identity']);
  });
});
