import type { Access } from './contracts/access.js';
import type { Dialect } from './dialect.js';

/** The grants role of an open dialect (lazily imported, like the catalog readers). */
export async function createAccess(dialect: Dialect): Promise<Access> {
  switch (dialect.name) {
    case 'postgres':
    case 'pglite': {
      const { PostgresAccess } = await import('./postgres/postgres-access.js');
      return new PostgresAccess(dialect.names);
    }
    case 'mssql': {
      const { MssqlAccess } = await import('./mssql/mssql-access.js');
      return new MssqlAccess(dialect.names);
    }
  }
}
