/**
 * A migrator over a real dialect that a test wraps before use (`patch` mutates the opened dialect:
 * a ledger store that throws once, a session that counts the queries it sends). The database stays
 * real; only calls around it are observed or failed.
 */
import { parseConfig } from '../../src/config/load-config.js';
import { createAdapter } from '../../src/dialect/create-adapter.js';
import type { Dialect } from '../../src/dialect/dialect.js';
import { MigratorImpl } from '../../src/migrator.js';
import { OperationContext } from '../../src/operations/context.js';

export function patchedMigrator(url: string, rootDir: string, patch: (dialect: Dialect) => void, config: Record<string, unknown> = {}): MigratorImpl {
  const cfg = parseConfig({ url, rootDir, ...config });
  const ctx = new OperationContext(cfg, async () => {
    const dialect = await createAdapter({
      url: cfg.url,
      rootDir: cfg.rootDir,
      maxConnections: cfg.concurrency + 1,
      names: { masterSchema: cfg.masterSchema, metaTable: cfg.metaTable, registryTable: cfg.registry.table, ledgerPrefix: cfg.ledgerPrefix },
    });
    patch(dialect);
    return dialect;
  });
  return new MigratorImpl(ctx);
}
