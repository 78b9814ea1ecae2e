/**
 * Locks on servers. ensureLedger when another process holds the ledger lock: it fails with LOCK_TIMEOUT (exit code 3)
 * instead of returning as if the ledger existed, which made the next ledger statement fail with
 * "Invalid object name" / "relation does not exist".
 * Servers only: the lock is held by a second session, and PGlite has a single connection.
 */
import { describe, expect, it } from 'vitest';
import { createAdapter } from '../../src/dialect/create-adapter.js';
import { LEDGER_LOCK } from '../../src/dialect/contracts/ledger-store.js';
import { runnableTargets, useProjectFixture, reportSkipped } from './harness.js';

const servers = runnableTargets.filter((t) => t.name !== 'pglite');
if (servers.length === 0) reportSkipped('postgres', 'ledger creation lock (needs a database server)');

describe.each(servers)('ledger creation lock on $name', (target) => {
  const fx = useProjectFixture(target);

  it('ensureLedger fails with LOCK_TIMEOUT while another session holds the ledger lock, and works once it is free', async () => {
    const dialect = await createAdapter({
      url: fx.db.url,
      rootDir: fx.project.root,
      maxConnections: 3,
      names: { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' },
    });
    try {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let held!: () => void;
      const holding = new Promise<void>((resolve) => (held = resolve));
      const holder = dialect.withSession(async (s) => {
        expect(await dialect.locks.acquireLock(s, LEDGER_LOCK, 5000)).toBe(true);
        held();
        await released;
        await dialect.locks.releaseLock(s, LEDGER_LOCK);
      });
      await holding;
      await expect(dialect.ledger.ensureLedger({ lockTimeoutMs: 300 })).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
      release();
      await holder;
      await dialect.ledger.ensureLedger({ lockTimeoutMs: 5000 });
      await dialect.ledger.ensureLedger({ lockTimeoutMs: 5000 }); // idempotent: the second run creates nothing
      expect(await dialect.ledger.getRun()).toBeUndefined();
    } finally {
      await dialect.close();
    }
  });

  it('two databases on one server do not share locks (Babelfish: advisory locks are cluster-wide, so the resource names the database)', async () => {
    const other = await target.createDatabase();
    const open = (url: string) =>
      createAdapter({
        url,
        rootDir: fx.project.root,
        maxConnections: 2,
        names: { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' },
      });
    const [a, b] = [await open(fx.db.url), await open(other.url)];
    try {
      await a.withSession(async (sa) => {
        expect(await a.locks.acquireLock(sa, '__master__', 1000)).toBe(true);
        await b.withSession(async (sb) => {
          expect(await b.locks.acquireLock(sb, '__master__', 300)).toBe(true);
          await b.locks.releaseLock(sb, '__master__');
        });
        // …while inside one database it still excludes.
        await a.withSession(async (sa2) => expect(await a.locks.acquireLock(sa2, '__master__', 300)).toBe(false));
        await a.locks.releaseLock(sa, '__master__');
      });
    } finally {
      await a.close();
      await b.close();
      await other.drop();
    }
  });
});
