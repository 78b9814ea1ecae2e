import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMigration } from '../../src/release/create.js';
import { revertList, downPathOf } from '../../src/release/down.js';
import type { ReleasePlan } from '../../src/release/plan.js';
import { planToMarkdown } from '../../src/release/plan-report-markdown.js';
import { scriptToSql } from '../../src/release/plan-report-sql.js';
import { planToText } from '../../src/release/plan-report-text.js';
import { numberingFindings, outOfOrderFiles } from '../../src/release/validate.js';
import type { MigrationFile } from '../../src/types.js';

const plan: ReleasePlan = {
  version: 1,
  generatedUtc: '2025-01-01T00:00:00.000Z',
  dialect: 'postgres',
  masterSchema: 'pmassist_master',
  clean: false,
  counts: { errors: 1, warnings: 1 },
  master: {
    applied: ['0001_initial_layout'],
    pending: [{ id: '0002_two_level_tenancy', file: 'master-migrations/0002_two_level_tenancy.sql.hbs', tenants: 1, noTransaction: false, afterTenants: false, hasDown: false }],
    unknownApplied: [],
  },
  tenants: { total: 60, upToDate: 2, behind: 57, blocked: 1, archivedSkipped: 1, invalid: 0, needsBackfill: 0 },
  pending: [{ id: '0003_add_job_priority', file: 'tenant-migrations/0003_add_job_priority.sql.hbs', tenants: 57, noTransaction: true, afterTenants: false, hasDown: true }],
  groups: [{ pending: ['0003_add_job_priority'], count: 57, schemas: Array.from({ length: 57 }, (_, i) => `ws_${String(i).padStart(32, '0')}`) }],
  problems: [
    { kind: 'checksum-mismatch', severity: 'error', scope: 'tenant', migrationId: '0001_create', file: 'tenant-migrations/0001_create.sql.hbs', schemas: ['ws_b'], message: 'changed | after apply' },
    { kind: 'unknown-applied', severity: 'warning', scope: 'tenant', migrationId: '0009_future', schemas: ['ws_c'], message: '0009_future is applied but not on disk' },
  ],
  archived: [{ workspaceId: 'x', schema: 'ws_archived' }],
  schemas: [],
};

describe('plan reports', () => {
  it('Markdown: verdict heading, summary table first, then pending and problems, long lists folded', () => {
    const md = planToMarkdown(plan);
    const lines = md.split('\n');
    expect(lines[0]).toBe('## tenant-migrate plan: ❌ 1 error(s), 1 warning(s)');
    expect(lines[2]).toBe('| | |');
    expect(md).toContain('| Tenants | 60: 2 up to date, 57 to migrate, 1 blocked |');
    expect(md).toContain('| Master migrations pending | `0002_two_level_tenancy` |');
    expect(md).toContain('| `0003_add_job_priority` | tenant | 57 | no-transaction (not atomic), has down |');
    expect(md).toContain('| `0002_two_level_tenancy` | master | – | no down file |');
    // Pipes in messages do not break the table.
    expect(md).toContain('| error | checksum-mismatch | `0001_create` | 1 | changed \\| after apply |');
    expect(md.indexOf('| | |')).toBeLessThan(md.indexOf('<details>'));
    expect(md).toContain('<summary>Tenants grouped by pending migrations (1 group(s))</summary>');
    expect(md).toContain('… and 7 more (see `plan --format json`)');
    expect(md).toContain('<summary>Archived tenants skipped (1)</summary>');
    expect(md.match(/<details>/g)?.length).toBe(md.match(/<\/details>/g)?.length);
  });

  it('Markdown says clean when there is nothing wrong', () => {
    const md = planToMarkdown({ ...plan, clean: true, counts: { errors: 0, warnings: 0 }, problems: [] });
    expect(md.split('\n')[0]).toBe('## tenant-migrate plan: ✅ clean');
    expect(md).not.toContain('### Problems');
  });

  it('text names each problem with its schemas', () => {
    const text = planToText(plan);
    expect(text).toContain('plan (postgres): 1 error(s), 1 warning(s); nothing was changed');
    expect(text).toContain('  0003_add_job_priority: 57 tenant(s) [no-transaction]');
    expect(text).toContain('error: [checksum-mismatch] changed | after apply — ws_b');
  });

  it('SQL: one script per target, each migration headed, render errors in place', () => {
    const sql = scriptToSql({
      target: 'ws_a',
      workspaceId: 'a',
      migrations: [
        { id: '0003_x', file: 't/0003_x.sql.hbs', sql: 'ALTER TABLE a ADD b int;\n' },
        { id: '0004_y', file: 't/0004_y.sql.hbs', error: 't/0004_y.sql.hbs:2: "nope" not defined' },
      ],
    });
    expect(sql).toBe(
      '-- tenant-migrate plan: tenant ws_a (workspace a)\n\n-- 0003_x (t/0003_x.sql.hbs)\nALTER TABLE a ADD b int;\n\n-- 0004_y (t/0004_y.sql.hbs)\n-- RENDER ERROR: t/0004_y.sql.hbs:2: "nope" not defined\n',
    );
  });
});

const file = (id: string): MigrationFile =>
  ({ id, number: Number.parseInt(id, 10), path: `tenant-migrations/${id}.sql.hbs` }) as MigrationFile;

describe('validate: numbering and the fast-forward rule', () => {
  it('reports gaps as warnings', () => {
    expect(numberingFindings([file('0001_a'), file('0002_b'), file('0005_c')])).toEqual([
      expect.objectContaining({ severity: 'warning', check: 'numbering', where: 'tenant-migrations/0005_c.sql.hbs' }),
    ]);
  });

  it('finds files numbered below the highest applied in some schema', () => {
    const files = [file('0001_a'), file('0002_b'), file('0003_c'), file('0004_d')];
    const applied = new Map([
      ['ws_1', [{ id: '0001_a' }, { id: '0003_c' }]],
      ['ws_2', [{ id: '0001_a' }]],
    ]);
    expect(outOfOrderFiles(files, applied)).toEqual(new Map([['0002_b', ['ws_1']]]));
  });
});

describe('down: what to revert', () => {
  it('reverts newer applied ids, newest first; 0 reverts all', () => {
    const files = [file('0001_a'), file('0002_b'), file('0003_c')];
    expect(revertList(files, [{ id: '0001_a' }, { id: '0002_b' }, { id: '0003_c' }], '0001_a')).toEqual(['0003_c', '0002_b']);
    expect(revertList(files, [{ id: '0001_a' }], '0001_a')).toEqual([]);
    expect(revertList(files, [{ id: '0001_a' }, { id: '0002_b' }], '0')).toEqual(['0002_b', '0001_a']);
    expect(downPathOf(file('0003_c'))).toBe('tenant-migrations/0003_c.down.sql.hbs');
  });
});

describe('create', () => {
  const project = () => {
    const rootDir = mkdtempSync(path.join(tmpdir(), 'tm-create-'));
    return { rootDir, masterMigrationsDir: 'master-migrations', tenantMigrationsDir: 'tenant-migrations', templatesDir: 'templates' };
  };

  it('numbers after the highest file and copies the scaffolds (shipped ones when the project has none)', async () => {
    const config = project();
    mkdirSync(path.join(config.rootDir, 'tenant-migrations'));
    writeFileSync(path.join(config.rootDir, 'tenant-migrations/0007_old.sql.hbs'), '');
    const result = await createMigration(config, { scope: 'tenant', name: 'add_job_priority', down: true });
    expect(result).toEqual({
      id: '0008_add_job_priority',
      files: ['tenant-migrations/0008_add_job_priority.sql.hbs', 'tenant-migrations/0008_add_job_priority.down.sql.hbs'],
    });
    expect(readFileSync(path.join(config.rootDir, result.files[0]!), 'utf8')).toContain('Tenant migration');
    const master = await createMigration(config, { scope: 'master', name: 'add_plan_code' });
    expect(master.files).toEqual(['master-migrations/0001_add_plan_code.sql.hbs']);
  });

  it('refuses names outside the id rule and names that exist', async () => {
    const config = project();
    await expect(createMigration(config, { scope: 'tenant', name: 'Add-Job Priority' })).rejects.toThrow(/not a valid migration name.*e\.g\. "add_job_priority"/);
    await createMigration(config, { scope: 'tenant', name: 'x' });
    await expect(createMigration(config, { scope: 'tenant', name: 'x' })).rejects.toThrow(/exists already: 0001_x/);
    expect(readdirSync(path.join(config.rootDir, 'tenant-migrations'))).toEqual(['0001_x.sql.hbs']);
  });
});
