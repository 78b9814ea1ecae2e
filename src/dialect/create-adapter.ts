import path from 'node:path';
import { redactUrl } from '../config/redact-url.js';
import { TenantMigrateError } from '../errors.js';
import type { AdapterNames, Dialect } from './dialect.js';
import type { DialectName } from './dialect-syntax.js';

/** Which dialect a URL selects (contract): mssql://, sqlserver://, ADO `Server=…`, postgres(ql)://, pglite:. */
export function dialectFromUrl(url: string): DialectName {
  if (/^pglite:/i.test(url)) return 'pglite';
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres';
  if (/^(mssql|sqlserver):\/\//i.test(url)) return 'mssql';
  if (/(^|;)\s*(server|data source|address|addr)\s*=/i.test(url)) return 'mssql';
  throw new TenantMigrateError(
    'CONFIG_INVALID',
    `Unrecognised database URL "${redactUrl(url)}": expected mssql://…, Server=…;Database=…, postgres://…, pglite:<dir> or pglite:memory`,
    { key: 'url' },
  );
}

export { redactUrl };

export interface CreateAdapterOptions {
  readonly url: string;
  readonly names: AdapterNames;
  readonly maxConnections: number;
  /** Directory a relative `pglite:<dir>` is resolved against. */
  readonly rootDir: string;
}

/** Open the adapter for a URL. Drivers are imported lazily so unused ones cost nothing. */
export async function createAdapter(options: CreateAdapterOptions): Promise<Dialect> {
  const dialect = dialectFromUrl(options.url);
  switch (dialect) {
    case 'pglite': {
      const location = options.url.replace(/^pglite:(\/\/)?/i, '');
      const dataDir = location === '' || location === 'memory' ? undefined : path.resolve(options.rootDir, location);
      const { PgliteAdapter } = await import('./pglite/pglite-adapter.js');
      return new PgliteAdapter({ dataDir, names: options.names });
    }
    case 'postgres': {
      const { PostgresAdapter } = await import('./postgres/postgres-adapter.js');
      return new PostgresAdapter({ url: options.url, names: options.names, maxConnections: options.maxConnections });
    }
    case 'mssql': {
      const { MssqlAdapter } = await import('./mssql/mssql-adapter.js');
      return new MssqlAdapter({ url: options.url, names: options.names, maxConnections: options.maxConnections });
    }
  }
}
