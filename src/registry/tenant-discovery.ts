import type { InvalidTenant, Tenant, TenantRow } from '../types.js';

const GUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** True for a GUID with or without hyphens (braces are not accepted). */
export function isGuid(value: string): boolean {
  return GUID_RE.test(value);
}

/** Canonical lower-case hyphenated GUID, or undefined when `value` is not one. */
export function normalizeGuid(value: string): string | undefined {
  const trimmed = value.trim().replace(/^\{(.*)\}$/, '$1');
  if (!isGuid(trimmed)) return undefined;
  const hex = trimmed.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `ws_<guid without hyphens, lower case>` (prefix configurable). */
export function deriveSchemaName(workspaceId: string, prefix = 'ws_'): string | undefined {
  const guid = normalizeGuid(workspaceId);
  return guid ? `${prefix}${guid.replace(/-/g, '')}` : undefined;
}

export interface DiscoveryResult {
  readonly tenants: Tenant[];
  readonly invalid: InvalidTenant[];
}

/**
 * Turn registry rows into tenants whose schema names may reach SQL. A row is rejected (reported,
 * never executed) when its stored or derived name fails the pattern, two rows claim one schema, or
 * its `db_target` is not a name of `targets` (never guessed: the master's database is not a fallback).
 */
export function validateTenants(
  rows: readonly TenantRow[],
  pattern: RegExp,
  prefix: string,
  targets: ReadonlySet<string> = new Set(),
): DiscoveryResult {
  const tenants: Tenant[] = [];
  const invalid: InvalidTenant[] = [];
  const seen = new Map<string, string>();
  for (const row of rows) {
    const reject = (reason: string) =>
      invalid.push({ workspaceId: row.workspaceId, dbSchemaName: row.dbSchemaName, ...(row.target ? { target: row.target } : {}), reason });
    if (row.target && !targets.has(row.target)) {
      reject(
        /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(row.target)
          ? `db_target "${row.target}" is not a name in config targets`
          : `db_target ${JSON.stringify(row.target)} is not a valid target name`,
      );
      continue;
    }
    let schema = row.dbSchemaName;
    const needsBackfill = schema === null || schema === '';
    if (needsBackfill) {
      schema = deriveSchemaName(row.workspaceId, prefix) ?? null;
      if (!schema) {
        reject(`workspace_id "${row.workspaceId}" is not a GUID, so no schema name can be derived`);
        continue;
      }
    }
    if (!pattern.test(schema!)) {
      reject(`db_schema_name ${JSON.stringify(schema)} does not match ${pattern.source}`);
      continue;
    }
    const other = seen.get(schema!);
    if (other) {
      reject(`db_schema_name ${schema} is also used by workspace ${other}`);
      continue;
    }
    seen.set(schema!, row.workspaceId);
    tenants.push({ ...row, target: row.target ?? null, schema: schema!, needsBackfill });
  }
  return { tenants, invalid };
}
