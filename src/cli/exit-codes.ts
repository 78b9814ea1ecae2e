import { VALIDATION_CODES, isTenantMigrateError } from '../errors.js';

/** Exit codes (contract): see DESIGN.md "Flow of up". */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  lock: 3,
  /** `drift` found tenants whose schema differs from what their migrations make. */
  drift: 4,
  interrupted: 130,
} as const;

export function exitCodeForError(err: unknown): number {
  if (isTenantMigrateError(err)) {
    if (err.code === 'LOCK_TIMEOUT') return EXIT.lock;
    if (err.code === 'INTERRUPTED') return EXIT.interrupted;
    if (VALIDATION_CODES.has(err.code)) return EXIT.usage;
  }
  return EXIT.failed;
}
