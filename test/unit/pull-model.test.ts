import { describe, expect, it } from 'vitest';
import type { Catalog, CatalogTable } from '../../src/catalog/catalog-model.js';
import { PullRefusedError, catalogToModel, catalogToModelSource, portableExpression, tsString } from '../../src/declarative/pull-model.js';
import { migrationTemplates } from '../../src/declarative/generate-migration.js';
import type { SchemaModel } from '../../src/schema-model/model-types.js';
import { emptyModel } from '../../src/schema-model/snapshot.js';
import { compileModels } from '../support/compile-model.js';

const OPTS = { scope: 'tenant' as const, masterSchema: 'pmassist_master', source: 'test' };
const tbl = (t: Partial<CatalogTable> & { name: string }): CatalogTable => ({ columns: [], uniques: [], checks: [], foreignKeys: [], indexes: [], ...t });
const cat = (...tables: CatalogTable[]): Catalog => ({ family: 'postgres', tables });

describe('pull: the model keeps the database\'s names', () => {
  it('server-generated names are recorded as such, never replaced', () => {
    const model = catalogToModel(
      cat(
        tbl({ name: 'users', columns: [{ name: 'id', type: 'bigint', nullable: false }, { name: 'email', type: 'text', nullable: false }], primaryKey: { generatedName: 'users_pkey', columns: ['id'] }, uniques: [{ generatedName: 'users_email_key', columns: ['email'] }], checks: [{ generatedName: 'users_email_check', expression: "email <> ''::text" }] }),
        tbl({ name: 'orders', columns: [{ name: 'id', type: 'bigint', nullable: false }, { name: 'user_id', type: 'bigint', nullable: true }], primaryKey: { name: 'orders_pk', columns: ['id'] }, foreignKeys: [{ generatedName: 'orders_user_id_fkey', columns: ['user_id'], refSchema: '$schema', refTable: 'users', refColumns: ['id'], onDelete: 'cascade', onUpdate: 'no action' }] }),
      ),
      OPTS,
    );
    const users = model.tables.find((t) => t.name === 'users')!;
    expect(users.primaryKey).toEqual({ name: 'users_pkey', generated: true, columns: ['id'] });
    expect(users.uniques).toEqual([{ name: 'users_email_key', generated: true, columns: ['email'] }]);
    expect(users.checks).toEqual([{ name: 'users_email_check', generated: true, expression: "email <> ''::text" }]);
    const orders = model.tables.find((t) => t.name === 'orders')!;
    expect(orders.primaryKey).toEqual({ name: 'orders_pk', columns: ['id'] });
    expect(orders.foreignKeys[0]).toMatchObject({ name: 'orders_user_id_fkey', generated: true });
  });

  it('a server-named constraint is created without a name and dropped by definition on SQL Server, by its name on PostgreSQL', () => {
    const from = catalogToModel(cat(tbl({ name: 'users', columns: [{ name: 'id', type: 'bigint', nullable: false }], primaryKey: { generatedName: 'users_pkey', columns: ['id'] } })), OPTS);
    const up = migrationTemplates(emptyModel('tenant'), from, '0001_x', new Set()).up;
    expect(up).toContain('{{#if isMssql}}{{else}}CONSTRAINT users_pkey {{/if}}PRIMARY KEY (id)');
    const to: SchemaModel = { ...from, tables: [{ ...from.tables[0]!, primaryKey: undefined }] };
    const drop = migrationTemplates(from, to, '0002_x', new Set()).up;
    expect(drop).toContain("k.parent_object_id = OBJECT_ID(N'{{table \"users\"}}') AND k.type = 'PK'");
    expect(drop).toContain('ALTER TABLE {{table "users"}} DROP CONSTRAINT users_pkey;');
  });
});

describe('pull: TypeScript that compiles', () => {
  it('escapes every string: quotes, backslashes, newlines, line separators', () => {
    expect(tsString("it's")).toBe('"it\'s"');
    expect(tsString(`it's "x"`)).toBe("'it\\'s \"x\"'");
    expect(tsString('a\\b')).toBe("'a\\\\b'");
    expect(tsString('a\nb\r\tc')).toBe("'a\\nb\\r\\tc'");
    expect(tsString('x\u2028y\u0001')).toBe("'x\\u2028y\\u0001'");
    expect(eval(tsString("multi'\n\\line\u2028"))).toBe("multi'\n\\line\u2028");
  });

  it('a multi-line check, odd defaults and every construct compile (tsc, strict, noUnusedLocals)', { timeout: 60_000 }, () => {
    const sources = [
      catalogToModelSource(
        cat(
          tbl({
            name: 'items',
            columns: [
              { name: 'id', type: 'identity', nullable: false },
              { name: 'tags', type: 'postgres:integer[]', nullable: false, default: "'{}'::integer[]" },
              { name: 'note', type: 'text', nullable: true, default: "'it''s \\ a\nnote'" },
              { name: 'price', type: 'decimal(10,2)', nullable: false, default: '0.50' },
              { name: 'at', type: 'datetime2', nullable: false, default: 'utcnow()' },
              { name: 'total', type: 'decimal(12,2)', nullable: true, computed: 'price * 2' },
              { name: 'total_kept', type: 'decimal(12,2)', nullable: true, computed: 'price * 3', persisted: true },
            ],
            primaryKey: { generatedName: 'items_pkey', columns: ['id'] },
            checks: [{ name: 'ck_items_note', expression: "note IS NULL\n   OR length(note) > 0" }],
            indexes: [
              { name: 'ix_items_note', keys: [{ column: 'note', descending: true }], unique: true, filter: "note <> 'x'::text", include: ['price'] },
              { name: 'ix_items_note_lower', keys: [{ column: "lower(note) || 'it''s'", expression: true, descending: true }, { column: 'id' }], unique: false },
            ],
          }),
        ),
        { ...OPTS, source: "workspace */ 'x'\nnext" },
      ),
      // No sql.* default: the import leaves `sql` out.
      catalogToModelSource(cat(tbl({ name: 'plain', columns: [{ name: 'a', type: 'int', nullable: false, default: '-1' }] })), OPTS),
    ];
    expect(compileModels(sources)).toEqual([[], []]);
    expect(sources[0]).toContain(`.default(sql.expr("'{}'::integer[]"))`);
    expect(sources[0]).toContain(".default(sql.expr('0.50'))");
    expect(sources[0]).toContain(`{ name: 'ix_items_note_lower', columns: [{ expression: { postgres: "lower(note) || 'it''s'" }, descending: true }, 'id'] }`);
    expect(sources[0]).toContain("total_kept: col.decimal(12, 2).computed('price * 3', { persisted: true }),");
    expect(sources[1]).toContain('a: col.int().default(-1),');
    expect(sources[1]).toContain("import { col, defineSchema, table } from 'tenant-migrate';");
  });
});

describe('pull: what the model cannot express is refused, naming each object', () => {
  it('lists every problem and writes nothing', () => {
    const bad = cat(
      tbl({
        name: 'a',
        columns: [{ name: 'id', type: 'decimal(10,0) identity', nullable: false }, { name: 'x', type: 'int', nullable: true }],
        checks: [{ generatedName: 'a_x_check', expression: 'x > 0 NO INHERIT' }, { name: 'ck_nv', expression: 'x < 9 NOT VALID' }, { name: 'ex', expression: 'postgres:EXCLUDE USING gist (x WITH =)' }],
        foreignKeys: [{ name: 'fk_other', columns: ['x'], refSchema: 'billing', refTable: 'accounts', refColumns: ['id'], onDelete: 'no action', onUpdate: 'no action' }],
        indexes: [
          { name: 'ix_gone', keys: [{ column: 'y' }], unique: false },
          { name: 'ix_gin', keys: [{ column: 'x' }], unique: false, method: 'gin' },
        ],
      }),
      tbl({ name: `t_${'x'.repeat(70)}`, columns: [{ name: 'Has Space', type: 'int', nullable: true }] }),
    );
    let error: unknown;
    try {
      catalogToModel(bad, OPTS);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PullRefusedError);
    const problems = (error as PullRefusedError).problems.join('\n');
    for (const what of [
      'column id is an identity of type decimal(10,0)',
      'check a_x_check is NO INHERIT',
      'check ck_nv is NOT VALID',
      'ex is an exclusion constraint',
      'foreign key fk_other references billing.accounts',
      'index ix_gone has the key "y", which is not a column of the table',
      'index ix_gin is gin',
      `table name "t_${'x'.repeat(70)}" is not a plain identifier`,
      'column "Has Space" is not a plain identifier',
    ]) expect(problems).toContain(what);
  });
});

describe('pull: deterministic and portable where the whole form is known', () => {
  it('the same catalog in any order pulls to the same bytes', () => {
    const t1 = tbl({ name: 'b', columns: [{ name: 'id', type: 'int', nullable: false }], checks: [{ name: 'ck_2', expression: 'id > 2' }, { name: 'ck_1', expression: 'id > 1' }] });
    const t2 = tbl({ name: 'a', columns: [{ name: 'id', type: 'int', nullable: false }] });
    expect(catalogToModelSource(cat(t1, t2), OPTS)).toBe(catalogToModelSource(cat(t2, { ...t1, checks: [...t1.checks].reverse() }), OPTS));
  });

  it('IN lists come back from = ANY (ARRAY[…]) with or without element casts; other casts stay', () => {
    expect(portableExpression("(status)::text = ANY ((ARRAY['a'::character varying, 'b''c'::character varying])::text[])")).toBe("status IN ('a', 'b''c')");
    expect(portableExpression("status = ANY (ARRAY['a'::text, 'b'::text])")).toBe("status IN ('a', 'b')");
    expect(portableExpression("x = ANY (ARRAY['1'::numeric])")).toBe("x = ANY (ARRAY['1'::numeric])");
  });
});
