/**
 * The pmassist master schema as code: what master-migrations/ make (not the engine's own meta
 * table and run ledger). See docs/schema-as-code.md.
 */
import { col, defineSchema, sql, table } from '../src/schema-model/index.js';

export default defineSchema({
  scope: 'master',
  tables: [
    table('Workspace', {
      columns: {
        workspace_id: col.uuid(),
        name: col.nvarchar(200),
        created_utc: col.datetime2().default(sql.utcnow, 'df_workspace_created_utc'),
        db_schema_name: col.nvarchar(128).nullable(),
        last_seen_utc: col.datetime2().nullable(),
        status: col.nvarchar(50).default('Active', 'df_workspace_status'),
        // master 0004: where the workspace's schema lives (a key of config `targets`; NULL = master's database)
        db_target: col.nvarchar(128).nullable(),
      },
      primaryKey: { name: 'pk_workspace', columns: ['workspace_id'] },
      checks: [
        { name: 'ck_workspace_status', expression: "status IN ('Active', 'Archived', 'Provisioning')" },
        {
          name: 'ck_workspace_db_schema_name',
          expression: {
            // LIKE: `_` is a wildcard, hence [_]; a binary collation keeps [0-9a-f] lowercase-only;
            // LIKE ignores trailing blanks, hence the DATALENGTH check (35 NVARCHAR chars = 70 bytes).
            mssql: "db_schema_name IS NULL OR (db_schema_name COLLATE Latin1_General_BIN2 LIKE N'ws[_]' + REPLICATE(N'[0-9a-f]', 32) AND LEN(db_schema_name + N'.') = 36)",
            postgres: "db_schema_name IS NULL OR db_schema_name ~ '^ws_[0-9a-f]{32}$'",
          },
        },
      ],
      indexes: [
        // Filtered: a SQL Server unique index admits a single NULL, and every not-yet-backfilled row is NULL.
        { name: 'ux_workspace_db_schema_name', columns: ['db_schema_name'], unique: true, where: 'db_schema_name IS NOT NULL' },
        { name: 'ix_workspace_status_last_seen', columns: ['status', 'last_seen_utc'] },
      ],
    }),

    table('WorkspaceMember', {
      columns: {
        workspace_id: col.uuid(),
        user_id: col.nvarchar(128),
        role: col.nvarchar(20),
        added_utc: col.datetime2().default(sql.utcnow, 'df_workspacemember_added_utc'),
      },
      primaryKey: { name: 'pk_workspacemember', columns: ['workspace_id', 'user_id'] },
      checks: [{ name: 'ck_workspacemember_role', expression: "role IN ('OWNER', 'ADMIN', 'MEMBER')" }],
      foreignKeys: [
        { name: 'fk_workspacemember_workspace', columns: ['workspace_id'], references: { table: 'Workspace', columns: ['workspace_id'] }, onDelete: 'cascade' },
      ],
    }),

    // Global audit: no foreign key, so the trail outlives a deleted workspace.
    table('AuditLog', {
      columns: {
        audit_id: col.identity(),
        workspace_id: col.uuid().nullable(),
        actor: col.nvarchar(128),
        action: col.nvarchar(100),
        details: col.nvarchar('max').nullable(),
        occurred_utc: col.datetime2().default(sql.utcnow, 'df_auditlog_occurred_utc'),
      },
      primaryKey: { name: 'pk_auditlog', columns: ['audit_id'] },
      indexes: [{ name: 'ix_auditlog_workspace_occurred', columns: ['workspace_id', 'occurred_utc'] }],
    }),

    // Legacy: replaced by <tenant schema>.workspace_integrations (tenant migration 0002 copies the rows).
    table('WorkspaceExternalLink', {
      columns: {
        link_id: col.uuid().default(sql.newid, 'df_workspaceexternallink_link_id'),
        workspace_id: col.uuid(),
        provider: col.nvarchar(50),
        external_id: col.nvarchar(256),
        display_name: col.nvarchar(200),
        url: col.nvarchar(2048).nullable(),
        created_utc: col.datetime2().default(sql.utcnow, 'df_workspaceexternallink_created_utc'),
      },
      primaryKey: { name: 'pk_workspaceexternallink', columns: ['link_id'] },
      uniques: [{ name: 'uq_workspaceexternallink_provider_external', columns: ['workspace_id', 'provider', 'external_id'] }],
      foreignKeys: [
        { name: 'fk_workspaceexternallink_workspace', columns: ['workspace_id'], references: { table: 'Workspace', columns: ['workspace_id'] }, onDelete: 'cascade' },
      ],
    }),
  ],
});
