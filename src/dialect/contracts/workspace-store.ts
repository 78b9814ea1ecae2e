import type { SqlSession } from './driver.js';

export interface WorkspaceUpsert {
  readonly workspaceId: string;
  readonly name: string;
  readonly schema: string;
  readonly status: string;
  /** Target database name (config `targets`, docs/fleet.md) recorded in `db_target`; absent/null: the master's own. */
  readonly target?: string | null;
}

export interface WorkspaceMemberInsert {
  readonly workspaceId: string;
  readonly userId: string;
  readonly role: 'OWNER' | 'ADMIN' | 'MEMBER';
  /** Member table in the master schema (validated identifier; pmassist: `WorkspaceMember`). */
  readonly table: string;
}

/** Writes to the registry that workspace provisioning and the lifecycle calls make. */
export interface WorkspaceStore {
  setWorkspaceStatus(session: SqlSession, workspaceId: string, status: string): Promise<boolean>;
  touchWorkspace(session: SqlSession, workspaceId: string): Promise<boolean>;
  /**
   * Insert a registry row (last_seen_utc and created_utc = now) unless one exists for the id;
   * true when this call inserted it. Never overwrites: provisioning relies on that to learn
   * whether it created the row (and may therefore remove it again on failure).
   */
  insertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<boolean>;
  /**
   * Registry rows per target that count for placement (status Active or Provisioning), keyed by
   * `db_target` (null: the master's database). Needs the `db_target` column (master migration 0004).
   */
  countPlaced(session: SqlSession): Promise<Map<string | null, number>>;
  /**
   * Compare-and-set of the status (`from` → `to`), also setting last_seen_utc = now; false when
   * the row is missing or not in `from`. Provisioning → Active must not resurrect an archived row.
   */
  transitionWorkspaceStatus(session: SqlSession, workspaceId: string, from: string, to: string): Promise<boolean>;
  /** Delete the registry row only while it has `status`; true when deleted. */
  deleteWorkspace(session: SqlSession, workspaceId: string, status: string): Promise<boolean>;
  /** Add a member row unless (workspace_id, user_id) exists; role unchanged for an existing member. */
  addWorkspaceMember(session: SqlSession, member: WorkspaceMemberInsert): Promise<void>;
}

/** The rows of a `countPlaced` query (db_target, n) as a map; a blank target is the master's database. */
export function placedCounts(rows: readonly { db_target: string | null; n: number | string }[]): Map<string | null, number> {
  const counts = new Map<string | null, number>();
  for (const row of rows) {
    const key = row.db_target == null || String(row.db_target).trim() === '' ? null : String(row.db_target).trim();
    counts.set(key, (counts.get(key) ?? 0) + Number(row.n));
  }
  return counts;
}
