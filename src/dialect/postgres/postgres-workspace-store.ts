import type { SqlSession } from '../contracts/driver.js';
import { type WorkspaceMemberInsert, type WorkspaceStore, type WorkspaceUpsert, placedCounts } from '../contracts/workspace-store.js';
import type { PostgresSql } from './postgres-sql.js';

/** Registry writes of provisioning and the workspace lifecycle; `RETURNING` tells whether a row matched. */
export class PostgresWorkspaceStore implements WorkspaceStore {
  readonly #sql: PostgresSql;

  constructor(sql: PostgresSql) {
    this.#sql = sql;
  }

  async setWorkspaceStatus(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    const rows = await session.query(`${this.#sql.setStatus} RETURNING 1 AS found`, [workspaceId, status]);
    return rows.length > 0;
  }

  async touchWorkspace(session: SqlSession, workspaceId: string): Promise<boolean> {
    const rows = await session.query(`${this.#sql.touch} RETURNING 1 AS found`, [workspaceId]);
    return rows.length > 0;
  }

  async insertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<boolean> {
    const rows = await session.query(this.#sql.insertWorkspace(!!row.target), [row.workspaceId, row.name, row.schema, row.status, ...(row.target ? [row.target] : [])]);
    return rows.length > 0;
  }

  async countPlaced(session: SqlSession): Promise<Map<string | null, number>> {
    return placedCounts(await session.query<{ db_target: string | null; n: number | string }>(this.#sql.countPlaced));
  }

  async transitionWorkspaceStatus(session: SqlSession, workspaceId: string, from: string, to: string): Promise<boolean> {
    return (await session.query(this.#sql.transitionStatus, [workspaceId, from, to])).length > 0;
  }

  async deleteWorkspace(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    return (await session.query(this.#sql.deleteWorkspace, [workspaceId, status])).length > 0;
  }

  async addWorkspaceMember(session: SqlSession, member: WorkspaceMemberInsert): Promise<void> {
    await session.query(this.#sql.addMember(member.table), [member.workspaceId, member.userId, member.role]);
  }
}
