import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { TenantMigrateError } from '../../errors.js';

export interface DirLock {
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock file `<dir>/.tenant-migrate.lock` holding the owner's pid. A stale file (its
 * process is gone, e.g. after kill -9) is taken over.
 */
export async function acquireDirLock(dir: string): Promise<DirLock> {
  const file = path.join(dir, '.tenant-migrate.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return { release: () => rmSync(file, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new TenantMigrateError(
          'LOCK_TIMEOUT',
          `The embedded database ${dir} is in use by process ${owner}; PGlite allows one process at a time.`,
          { file },
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new TenantMigrateError('LOCK_TIMEOUT', `Could not lock the embedded database ${dir}`, { file });
}
