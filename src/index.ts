/**
 * tenant-migrate — public library API. No printing, no process.exit: see src/cli/ for that.
 */
export { createMigrator, openMigrator } from './migrator.js';
export type { Migrator, UpOptions, UpResult, StatusResult, RenderOptions } from './migrator.js';
export type { Config, ConfigInput } from './config/config-schema.js';
export { loadConfig, parseConfig } from './config/load-config.js';
export { defineConfig } from './config/define-config.js';
export type { MigratorEvent, MigratorListener, TenantResult, FailureInfo, TenantOutcome } from './events.js';
export * from './errors.js';
export type * from './types.js';
export { deriveSchemaName, normalizeGuid, isGuid } from './registry/tenant-discovery.js';
export { dialectFromUrl, redactUrl } from './dialect/create-adapter.js';
export type { DialectAdapter, SqlSession } from './dialect/dialect-adapter.js';
export { WorkspaceService, createWorkspaceService, ProvisionError, PROVISIONING } from './workspaces/workspace-service.js';
export type { WorkspaceServiceOptions, ProvisionInput, ProvisionResult, WorkspaceInfo, WorkspaceDetails } from './workspaces/workspace-service.js';
export { WorkspaceCache } from './workspaces/workspace-cache.js';
// The warm provisioning service behind `tenant-migrate serve` (docs/workspace-api.md), for embedding it in a process of your own.
export { startProvisioningServer } from './service/provisioning-server.js';
export type { ProvisioningServer, ProvisioningServerOptions, ServiceLogEntry, WorkspaceApi } from './service/provisioning-server.js';
export type { WorkspaceCacheOptions } from './workspaces/workspace-cache.js';
export type { DriftOptions } from './drift/detect-drift.js';
export type { DriftReport, DriftGroup } from './drift/drift-report.js';
export type { Difference } from './catalog/catalog-diff.js';
export type { Catalog, CatalogTable, CatalogColumn, CatalogIndex, ForeignKey, KeyConstraint, CheckConstraint } from './catalog/catalog-model.js';
export { fingerprint } from './catalog/fingerprint.js';
export { diffCatalogs, describeDifference } from './catalog/catalog-diff.js';
export { formatDrift } from './drift/drift-report-format.js';
// Schema as code (docs/schema-as-code.md): typed builders for schema/tenant.ts and schema/master.ts.
export { col, defineSchema, routine, sequence, sql, table, view, ColumnBuilder, validateModel, ModelError } from './schema-model/index.js';
export type { SchemaModel, ModelTable, ModelColumn, ModelIndex, ModelForeignKey, ModelKey, ModelCheck, ModelDefault, DialectText, ModelScope, ModelView, ModelSequence, ModelRoutine, ServerNamed, TableInput, DefaultInput } from './schema-model/index.js';
export { generateMigration } from './declarative/generate-migration.js';
export type { GenerateOptions, GenerateResult } from './declarative/generate-migration.js';
export { checkModels, formatCheck } from './declarative/check-model.js';
export type { CheckResult, ScopeCheck } from './declarative/check-model.js';
export { diffModels } from './declarative/schema-diff.js';
export type { SchemaChange, SchemaDiff, AllowKind } from './declarative/schema-changes.js';
// The HTML fleet report (docs/report.md).
export { fleetReport, writeFleetReport } from './report/fleet-report.js';
export type { FleetReport, ReportOptions, ReportData } from './report/fleet-report.js';
