import type { DialectName, DialectSyntax } from './dialect-syntax.js';
import { mssqlSyntax } from './mssql/mssql-syntax.js';
import { pgliteSyntax, postgresSyntax } from './postgres/postgres-syntax.js';

const SYNTAX: Record<DialectName, DialectSyntax> = {
  mssql: mssqlSyntax,
  postgres: postgresSyntax,
  pglite: pgliteSyntax,
};

/** The connection-free syntax of a dialect (for rendering without a database). */
export function syntaxFor(dialect: DialectName): DialectSyntax {
  return SYNTAX[dialect];
}
