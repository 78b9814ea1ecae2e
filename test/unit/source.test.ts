import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../../src/errors.js';
import {
  MIGRATION_ID_RE,
  checksumOf,
  loadMigrations,
  nextMigrationNumber,
  parseDirectives,
} from '../../src/source/index.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'tm-source-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function files(dir: string, entries: Record<string, string>): Promise<void> {
  await mkdir(path.join(root, dir), { recursive: true });
  for (const [name, text] of Object.entries(entries)) await writeFile(path.join(root, dir, name), text);
}

async function sourceError(promise: Promise<unknown>): Promise<SourceError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SourceError);
  return err as SourceError;
}

describe('loadMigrations', () => {
  it('returns [] for a missing folder', async () => {
    expect(await loadMigrations({ rootDir: root, dir: 'nope', scope: 'tenant' })).toEqual([]);
  });

  it('sorts by number, not by name, and pairs down files', async () => {
    await files('tenant-migrations', {
      '0010_later.sql.hbs': 'SELECT 10;',
      '0002_second.sql.hbs': 'SELECT 2;',
      '0002_second.down.sql.hbs': 'SELECT -2;',
      '00001_first.sql.hbs': 'SELECT 1;',
      'README.md': '# notes',
      '.gitkeep': '',
      '.0003_hidden.sql': 'SELECT 3;',
    });
    const list = await loadMigrations({ rootDir: root, dir: 'tenant-migrations', scope: 'tenant' });
    expect(list.map((m) => m.id)).toEqual(['00001_first', '0002_second', '0010_later']);
    expect(list.map((m) => m.number)).toEqual([1, 2, 10]);
    const second = list[1]!;
    expect(second).toMatchObject({
      name: 'second',
      scope: 'tenant',
      path: 'tenant-migrations/0002_second.sql.hbs',
      absolutePath: path.join(root, 'tenant-migrations', '0002_second.sql.hbs'),
      source: 'SELECT 2;',
      isTemplate: true,
      checksum: checksumOf('SELECT 2;'),
      directives: { noTransaction: false, afterTenants: false },
    });
    expect(second.down).toMatchObject({
      path: 'tenant-migrations/0002_second.down.sql.hbs',
      source: 'SELECT -2;',
      isTemplate: true,
    });
    expect(list[0]!.down).toBeUndefined();
  });

  it('accepts plain .sql (not a template) and an absolute dir; paths stay relative to rootDir with /', async () => {
    await files('db/master', { '0001_init.sql': 'CREATE TABLE t (id INT);', '0002_more.sql.hbs': 'SELECT 1;' });
    const list = await loadMigrations({ rootDir: root, dir: path.join(root, 'db', 'master'), scope: 'master' });
    expect(list.map((m) => [m.id, m.isTemplate, m.path])).toEqual([
      ['0001_init', false, 'db/master/0001_init.sql'],
      ['0002_more', true, 'db/master/0002_more.sql.hbs'],
    ]);
  });

  it('reads directives', async () => {
    await files('master-migrations', {
      '0001_a.sql': '-- tenant-migrate: no-transaction, after-tenants\nSELECT 1;',
      '0002_b.sql.hbs': '{{!-- doc --}}\n\n-- tenant-migrate: after-tenants\nSELECT 1;',
    });
    const list = await loadMigrations({ rootDir: root, dir: 'master-migrations', scope: 'master' });
    expect(list.map((m) => m.directives)).toEqual([
      { noTransaction: true, afterTenants: true },
      { noTransaction: false, afterTenants: true },
    ]);
  });

  it('collects every problem into one SourceError naming the files', async () => {
    await files('tenant-migrations', {
      '0001_ok.sql.hbs': 'SELECT 1;',
      '001_short.sql.hbs': '',
      '0002_Bad_Case.sql.hbs': '',
      '0003-dash.sql': '',
      '0004_x.txt.hbs': '',
      '0005_one.sql.hbs': 'SELECT 1;',
      '0005_two.sql.hbs': 'SELECT 1;',
      '0006_same.sql': 'SELECT 1;',
      '0006_same.sql.hbs': 'SELECT 1;',
      '0007_orphan.down.sql.hbs': 'SELECT 1;',
      '0008_directive.sql.hbs': '-- tenant-migrate: no-transaction, sometimes\nSELECT 1;',
      '0009_after.sql.hbs': '-- tenant-migrate: after-tenants\nSELECT 1;',
    });
    const err = await sourceError(loadMigrations({ rootDir: root, dir: 'tenant-migrations', scope: 'tenant' }));
    const text = err.issues.join('\n');
    expect(err.code).toBe('SOURCE_INVALID');
    for (const name of ['001_short.sql.hbs', '0002_Bad_Case.sql.hbs', '0003-dash.sql', '0004_x.txt.hbs']) {
      expect(text).toMatch(new RegExp(`tenant-migrations/${name.replace(/\./g, '\\.')}: malformed`));
    }
    expect(text).toContain(
      'duplicate migration number 5: tenant-migrations/0005_one.sql.hbs and tenant-migrations/0005_two.sql.hbs',
    );
    expect(text).toContain(
      'duplicate migration id 0006_same: tenant-migrations/0006_same.sql and tenant-migrations/0006_same.sql.hbs',
    );
    expect(text).toContain('tenant-migrations/0007_orphan.down.sql.hbs: down migration without its up migration 0007_orphan');
    expect(text).toContain('tenant-migrations/0008_directive.sql.hbs:1: unknown directive "sometimes"');
    expect(text).toContain('tenant-migrations/0009_after.sql.hbs: "after-tenants" is only valid on a master migration');
    expect(err.issues).toHaveLength(9);
    expect(err.message).toContain('0005_two.sql.hbs');
  });

  it('treats 0001 and 00001 as the same number', async () => {
    await files('m', { '0001_a.sql': '', '00001_b.sql': '' });
    const err = await sourceError(loadMigrations({ rootDir: root, dir: 'm', scope: 'master' }));
    expect(err.issues).toEqual(['duplicate migration number 1: m/00001_b.sql and m/0001_a.sql']);
  });

  it('accepts after-tenants on a master migration', async () => {
    await files('m', { '0001_a.sql': '-- tenant-migrate: after-tenants\nDROP TABLE x;' });
    const [m] = await loadMigrations({ rootDir: root, dir: 'm', scope: 'master' });
    expect(m?.directives.afterTenants).toBe(true);
  });
});

describe('parseDirectives', () => {
  it('reads only the leading comment block, several per line, any case and spacing', () => {
    expect(parseDirectives('', 'x.sql')).toEqual({ noTransaction: false, afterTenants: false });
    expect(
      parseDirectives('\n-- a comment\n--tenant-migrate:NO-TRANSACTION\n\n-- tenant-migrate: after-tenants\nSELECT 1;', 'x.sql'),
    ).toEqual({ noTransaction: true, afterTenants: true });
    expect(parseDirectives('SELECT 1;\n-- tenant-migrate: no-transaction', 'x.sql')).toEqual({
      noTransaction: false,
      afterTenants: false,
    });
    expect(parseDirectives('/* c */\n-- tenant-migrate: no-transaction', 'x.sql').noTransaction).toBe(false);
    expect(parseDirectives('{{!--\n multi\n line --}}\n-- tenant-migrate: no-transaction', 'x.sql').noTransaction).toBe(
      true,
    );
    expect(parseDirectives('{{!-- x --}} SELECT 1;\n-- tenant-migrate: no-transaction', 'x.sql').noTransaction).toBe(
      false,
    );
    expect(parseDirectives('\r\n-- tenant-migrate: no-transaction\r\nSELECT 1;', 'x.sql').noTransaction).toBe(true);
  });

  it('throws a SourceError naming file and line for an unknown directive', () => {
    expect(() => parseDirectives('-- x\n-- tenant-migrate: no-transaction, bogus', 'm/0001_a.sql')).toThrow(
      /m\/0001_a\.sql:2: unknown directive "bogus"/,
    );
    try {
      parseDirectives('-- tenant-migrate:', 'm/0001_a.sql');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SourceError);
      expect((err as SourceError).context.file).toBe('m/0001_a.sql');
    }
  });
});

describe('checksumOf', () => {
  it('is sha256 hex and ignores CRLF vs LF', () => {
    expect(checksumOf('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(checksumOf('SELECT 1;\r\nSELECT 2;\r\n')).toBe(checksumOf('SELECT 1;\nSELECT 2;\n'));
    expect(checksumOf('SELECT 1;\n')).not.toBe(checksumOf('SELECT 1; \n'));
  });

  it('gives CRLF and LF copies of a file the same checksum when loaded', async () => {
    await files('a', { '0001_x.sql': 'SELECT 1;\r\nSELECT 2;\r\n' });
    await files('b', { '0001_x.sql': 'SELECT 1;\nSELECT 2;\n' });
    const [a] = await loadMigrations({ rootDir: root, dir: 'a', scope: 'master' });
    const [b] = await loadMigrations({ rootDir: root, dir: 'b', scope: 'master' });
    expect(a!.checksum).toBe(b!.checksum);
  });
});

describe('ids', () => {
  it('MIGRATION_ID_RE follows the contract', () => {
    for (const ok of ['0001_a', '0003_add_job_priority', '12345_x1_y2']) expect(ok).toMatch(MIGRATION_ID_RE);
    for (const bad of ['001_a', '0001', '0001_', '0001_A', '0001_a__b', '0001_a-b', '0001_a_', 'x0001_a']) {
      expect(bad).not.toMatch(MIGRATION_ID_RE);
    }
  });

  it('nextMigrationNumber is one past the highest, 1 when empty', () => {
    expect(nextMigrationNumber([])).toBe(1);
    expect(nextMigrationNumber([{ number: 3 }, { number: 12 }, { number: 7 }])).toBe(13);
  });
});
