import type { CatalogReader } from '../catalog/catalog-reader.js';
import type { Dialect } from './dialect.js';

/** The catalog introspection of an open adapter's dialect (lazily imported, like the drivers). */
export async function createCatalogReader(adapter: Dialect): Promise<CatalogReader> {
  const options = { metaTable: adapter.names.metaTable };
  switch (adapter.name) {
    case 'postgres':
    case 'pglite': {
      const { PostgresCatalogReader } = await import('./postgres/postgres-catalog.js');
      return new PostgresCatalogReader(adapter, options);
    }
    case 'mssql': {
      const { MssqlCatalogReader } = await import('./mssql/mssql-catalog.js');
      return new MssqlCatalogReader(adapter, options);
    }
  }
}
