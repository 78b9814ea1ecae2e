import type { SqlSession } from '../contracts/driver.js';
import { type WorkspaceMemberInsert, type WorkspaceStore, type WorkspaceUpsert, placedCounts } from '../contracts/workspace-store.js';
import { affected } from './mssql-driver.js';
import { mssqlErrorNumber } from './mssql-errors.js';
import type { mssqlWorkspaceSql } from './mssql-ledger-sql.js';
import type { MssqlSql } from './mssql-sql.js';

/** Violation of a PRIMARY KEY / UNIQUE constraint (2627), of a unique index (2601). */
const DUPLICATE_KEY = new Set([2627, 2601]);

/** Registry writes of provisioning and the workspace lifecycle; `@@ROWCOUNT` tells whether a row matched. */
export class MssqlWorkspaceStore implements WorkspaceStore {
  readonly #sql: MssqlSql;
  readonly #ws: ReturnType<typeof mssqlWorkspaceSql>;

  constructor(statements: MssqlSql, workspaceStatements: ReturnType<typeof mssqlWorkspaceSql>) {
    this.#sql = statements;
    this.#ws = workspaceStatements;
  }

  async setWorkspaceStatus(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    const [row] = await session.query<{ affected: number }>(this.#sql.setStatus, [workspaceId, status]);
    return Number(row?.affected ?? 0) > 0;
  }

  async touchWorkspace(session: SqlSession, workspaceId: string): Promise<boolean> {
    const [row] = await session.query<{ affected: number }>(this.#sql.touch, [workspaceId]);
    return Number(row?.affected ?? 0) > 0;
  }

  /**
   * UPDLOCK + HOLDLOCK make check-and-insert atomic on SQL Server. Babelfish ignores the hints, so
   * two provisionings of one workspace can both pass the NOT EXISTS; the loser gets a primary-key
   * violation (2627, also on Babelfish), which means exactly "someone else inserted it": false.
   * Only done here, in autocommit: inside a transaction the error would doom it (XACT_ABORT).
   */
  async insertWorkspace(session: SqlSession, row: WorkspaceUpsert): Promise<boolean> {
    try {
      return affected(await session.query(this.#ws.insertWorkspace(!!row.target), [row.workspaceId, row.name, row.schema, row.status, ...(row.target ? [row.target] : [])])) > 0;
    } catch (err) {
      if (!session.inTransaction && DUPLICATE_KEY.has(mssqlErrorNumber(err) ?? 0)) return false;
      throw err;
    }
  }

  async countPlaced(session: SqlSession): Promise<Map<string | null, number>> {
    return placedCounts(await session.query<{ db_target: string | null; n: number | string }>(this.#ws.countPlaced));
  }

  async transitionWorkspaceStatus(session: SqlSession, workspaceId: string, from: string, to: string): Promise<boolean> {
    return affected(await session.query(this.#ws.transitionStatus, [workspaceId, from, to])) > 0;
  }

  async deleteWorkspace(session: SqlSession, workspaceId: string, status: string): Promise<boolean> {
    return affected(await session.query(this.#ws.deleteWorkspace, [workspaceId, status])) > 0;
  }

  async addWorkspaceMember(session: SqlSession, member: WorkspaceMemberInsert): Promise<void> {
    await session.query(this.#ws.addMember(member.table), [member.workspaceId, member.userId, member.role]);
  }
}
