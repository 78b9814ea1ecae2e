import { randomUUID } from 'node:crypto';
import type { DialectAdapter, SqlSession } from '../dialect/dialect-adapter.js';

export interface SeedResult {
  /** Workspaces inserted now (0 when demo data was already present). */
  readonly workspaces: number;
  readonly links: number;
}

const PROVIDERS = ['github', 'jira', 'slack', 'azure-devops', 'google-drive'];

/**
 * Seed pre-existing workspaces as they looked before the two-level layout: Workspace rows without
 * a schema, an OWNER each, and a few rows in the legacy global WorkspaceExternalLink table, so the
 * copy migration has something to move. Does nothing when the Workspace table already has rows.
 * Uses only portable SQL: quoting comes from the dialect, values travel as parameters.
 */
export async function seedDemo(adapter: DialectAdapter, masterSchema: string, count: number): Promise<SeedResult> {
  const q = (name: string) => `${adapter.syntax.quoteIdent(masterSchema)}.${adapter.syntax.quoteIdent(name)}`;
  return adapter.withSession(async (session) => {
    const [row] = await session.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${q('Workspace')}`);
    if (Number(row?.n ?? 0) > 0) return { workspaces: 0, links: 0 };
    await session.begin();
    try {
      let links = 0;
      const ids = Array.from({ length: count }, () => randomUUID());
      for (let i = 0; i < ids.length; i += 100) {
        const chunk = ids.slice(i, i + 100);
        await insertRows(session, q('Workspace'), ['workspace_id', 'name'], chunk.map((id, j) => [id, `Demo workspace ${i + j + 1}`]));
        await insertRows(session, q('WorkspaceMember'), ['workspace_id', 'user_id', 'role'], chunk.map((id, j) => [id, `user${i + j + 1}@example.com`, 'OWNER']));
        const linkRows = chunk.flatMap((id, j) =>
          Array.from({ length: 1 + ((i + j) % 3) }, (_, k) => {
            const provider = PROVIDERS[(i + j + k) % PROVIDERS.length]!;
            return [randomUUID(), id, provider, `${provider}-${i + j + 1}-${k + 1}`, `${provider} project ${k + 1}`];
          }),
        );
        links += linkRows.length;
        await insertRows(session, q('WorkspaceExternalLink'), ['link_id', 'workspace_id', 'provider', 'external_id', 'display_name'], linkRows);
      }
      await session.commit();
      return { workspaces: ids.length, links };
    } catch (err) {
      await session.rollback();
      throw err;
    }
  });
}

async function insertRows(session: SqlSession, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  if (rows.length === 0) return;
  let n = 0;
  const values = rows.map((r) => `(${r.map(() => `$${++n}`).join(', ')})`).join(', ');
  await session.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values}`, rows.flat());
}
