/**
 * The SQL Server grants when the folded send records them instead of running them: a recording
 * session answers no rows, so whether the server is Babelfish (which has no DENY) cannot be probed
 * there — the batch decides it on the server, and a probe without an answer is not kept.
 */
import { describe, expect, it } from 'vitest';
import { recordingSession } from '../../src/dialect/contracts/folded-apply.js';
import type { SqlSession } from '../../src/dialect/dialect-adapter.js';
import { MssqlAccess } from '../../src/dialect/mssql/mssql-access.js';

const names = { masterSchema: 'pmassist_master', metaTable: '__schema_migrations', registryTable: 'Workspace', ledgerPrefix: '__tm_' };
const S = 'ws_0123456789abcdef0123456789abcdef';
const roles = { appRole: 'app', workspaceRole: `${S}_app` };

/** A session answering the engine probe as a server would (the rows a real session returns). */
function answering(bbf: 0 | 1): SqlSession & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    query: async <R>(sql: string) => {
      sent.push(sql);
      return [{ bbf }] as R[];
    },
    runScript: async (sql: string) => void sent.push(sql),
    begin: async () => undefined,
    commit: async () => undefined,
    rollback: async () => undefined,
    inTransaction: false,
  } as SqlSession & { sent: string[] };
}

describe('SQL Server grants in a recorded (folded) prelude', () => {
  it('unknown engine: the DENY is guarded by the server itself, and nothing is probed into the prelude', async () => {
    const access = new MssqlAccess(names);
    const { session, statements } = recordingSession((sql) => sql);
    await access.grantTenant(session, S, roles);
    expect(statements).toHaveLength(1);
    expect(statements[0]).not.toMatch(/@@VERSION/);
    expect(statements[0]).toContain(`IF SERVERPROPERTY('Babelfish') IS NULL EXEC(N'DENY SELECT, INSERT, UPDATE, DELETE ON OBJECT::[${S}].[__schema_migrations] TO [app], [${S}_app];');`);
  });

  it('a probe on a recording session is no answer and is not kept; a real answer is', async () => {
    const access = new MssqlAccess(names);
    const { session } = recordingSession((sql) => sql);
    expect(await access.isBabelfish(session)).toBe(false);
    const babelfish = answering(1);
    expect(await access.isBabelfish(babelfish)).toBe(true);
    expect(babelfish.sent).toHaveLength(1);
    const { session: later, statements } = recordingSession((sql) => sql);
    await access.grantTenant(later, S, roles);
    expect(statements.join('\n')).not.toMatch(/DENY/);
  });

  it('known SQL Server: the plain DENY', async () => {
    const access = new MssqlAccess(names);
    expect(await access.isBabelfish(answering(0))).toBe(false);
    const { session, statements } = recordingSession((sql) => sql);
    await access.grantTenant(session, S, roles);
    expect(statements.join('\n')).toMatch(/^DENY SELECT, INSERT, UPDATE, DELETE ON OBJECT::/m);
  });
});
