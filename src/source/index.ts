export { checksumOf } from './checksum.js';
export { parseDirectives, scanDirectives, type DirectiveScan } from './directives.js';
export { loadMigrations, type LoadMigrationsOptions } from './load-migrations.js';
export {
  MIGRATION_ID_RE,
  formatMigrationNumber,
  nextMigrationNumber,
  parseMigrationFileName,
  type ParsedFileName,
} from './migration-id.js';
