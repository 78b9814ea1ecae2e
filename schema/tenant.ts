/**
 * The pmassist tenant schema (one per workspace, `ws_<guid>`) as code: what
 * tenant-migrations/ make. Change it, then `tenant-migrate diff <name>` writes the next migration
 * and updates tenant.snapshot.json; `tenant-migrate check` (CI) proves model, snapshot and
 * migrations agree. See docs/schema-as-code.md.
 *
 * An application outside this repository imports the builders from 'tenant-migrate'.
 */
import { col, defineSchema, sql, table } from '../src/schema-model/index.js';

/** created_utc / updated_utc, as templates/partials/audit_columns.hbs writes them. */
const audit = (t: string) => ({
  created_utc: col.datetime2().default(sql.utcnow, `df_${t}_created_utc`),
  updated_utc: col.datetime2().default(sql.utcnow, `df_${t}_updated_utc`),
});

export default defineSchema({
  scope: 'tenant',
  tables: [
    table('workspace_integrations', {
      columns: {
        integration_id: col.uuid().default(sql.newid, 'df_workspace_integrations_id'),
        provider: col.nvarchar(50),
        external_id: col.nvarchar(256),
        display_name: col.nvarchar(200),
        url: col.nvarchar(2048).nullable(),
        config: col.json().nullable(),
        ...audit('workspace_integrations'),
      },
      primaryKey: { name: 'pk_workspace_integrations', columns: ['integration_id'] },
      uniques: [{ name: 'uq_workspace_integrations_provider_external', columns: ['provider', 'external_id'] }],
    }),

    table('workspace_agents', {
      columns: {
        agent_id: col.uuid().default(sql.newid, 'df_workspace_agents_id'),
        name: col.nvarchar(200),
        kind: col.nvarchar(50),
        config: col.json().nullable(),
        is_enabled: col.bit().default(true, 'df_workspace_agents_is_enabled'),
        ...audit('workspace_agents'),
      },
      primaryKey: { name: 'pk_workspace_agents', columns: ['agent_id'] },
      uniques: [{ name: 'uq_workspace_agents_name', columns: ['name'] }],
    }),

    table('automation_jobs', {
      columns: {
        job_id: col.uuid().default(sql.newid, 'df_automation_jobs_id'),
        agent_id: col.uuid().nullable(),
        name: col.nvarchar(200),
        schedule_cron: col.nvarchar(100).nullable(),
        status: col.nvarchar(20).default('active', 'df_automation_jobs_status'),
        payload: col.json().nullable(),
        next_run_utc: col.datetime2().nullable(),
        ...audit('automation_jobs'),
      },
      primaryKey: { name: 'pk_automation_jobs', columns: ['job_id'] },
      checks: [{ name: 'ck_automation_jobs_status', expression: "status IN ('active', 'paused', 'disabled')" }],
      // Deleting an agent keeps its jobs (unassigned) and their history.
      foreignKeys: [
        { name: 'fk_automation_jobs_agent', columns: ['agent_id'], references: { table: 'workspace_agents', columns: ['agent_id'] }, onDelete: 'set null' },
      ],
      // The scheduler's query: due jobs by status.
      indexes: [{ name: 'ix_automation_jobs_status_next_run', columns: ['status', 'next_run_utc'] }],
    }),

    table('automation_job_runs', {
      columns: {
        run_id: col.uuid().default(sql.newid, 'df_automation_job_runs_id'),
        job_id: col.uuid(),
        status: col.nvarchar(20).default('queued', 'df_automation_job_runs_status'),
        attempt: col.int().default(1, 'df_automation_job_runs_attempt'),
        started_utc: col.datetime2().default(sql.utcnow, 'df_automation_job_runs_started_utc'),
        finished_utc: col.datetime2().nullable(),
        error: col.text().nullable(),
      },
      primaryKey: { name: 'pk_automation_job_runs', columns: ['run_id'] },
      checks: [
        { name: 'ck_automation_job_runs_status', expression: "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')" },
        { name: 'ck_automation_job_runs_attempt', expression: 'attempt >= 1' },
        { name: 'ck_automation_job_runs_finished', expression: 'finished_utc IS NULL OR finished_utc >= started_utc' },
      ],
      foreignKeys: [
        { name: 'fk_automation_job_runs_job', columns: ['job_id'], references: { table: 'automation_jobs', columns: ['job_id'] }, onDelete: 'cascade' },
      ],
      indexes: [{ name: 'ix_automation_job_runs_job_started', columns: ['job_id', 'started_utc'] }],
    }),

    table('file_artifacts', {
      columns: {
        artifact_id: col.uuid().default(sql.newid, 'df_file_artifacts_id'),
        job_run_id: col.uuid().nullable(),
        file_name: col.nvarchar(260),
        content_type: col.nvarchar(255),
        size_bytes: col.bigint(),
        storage_uri: col.nvarchar(2048),
        sha256: col.varchar(64),
        created_utc: col.datetime2().default(sql.utcnow, 'df_file_artifacts_created_utc'),
      },
      primaryKey: { name: 'pk_file_artifacts', columns: ['artifact_id'] },
      checks: [{ name: 'ck_file_artifacts_size', expression: 'size_bytes >= 0' }],
      // An artifact outlives the run that produced it (runs are pruned with their job).
      foreignKeys: [
        { name: 'fk_file_artifacts_job_run', columns: ['job_run_id'], references: { table: 'automation_job_runs', columns: ['run_id'] }, onDelete: 'set null' },
      ],
      indexes: [{ name: 'ix_file_artifacts_job_run', columns: ['job_run_id'] }],
    }),
  ],
});
