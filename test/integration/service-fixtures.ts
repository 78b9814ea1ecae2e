/** Fixtures shared by the provisioning-service and Python example tests. */
import { spawn } from 'node:child_process';

/** A workspace with this name fails in the test migration below (on every engine: a division by zero). */
export const FAIL_NAME = 'fail-on-provision';
/** The test project's extra tenant migration: applied to every workspace, it fails only for {@link FAIL_NAME}. */
export const FAIL_MIGRATION = `{{!-- Test fixture: fails only for the workspace named '${FAIL_NAME}' (division by zero), after 0001 and 0002 were applied. --}}
SELECT 1 / (CASE WHEN w.name = '${FAIL_NAME}' THEN 0 ELSE 1 END) AS must_not_be_zero
FROM {{master}}.{{ident "Workspace"}} w
WHERE w.workspace_id = {{literal workspaceId}};
`;

/** A socket file nobody listens on, as a server killed with SIGKILL leaves it (a clean close removes it). */
export async function staleSocket(socketPath: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the listener exited (${code}) before listening`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
