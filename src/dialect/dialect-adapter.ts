/**
 * The dialect contracts in one import. `DialectAdapter` (public API name) is the composed
 * {@link Dialect}; the contracts themselves live in ./contracts/, one concern per file.
 */
import type { Dialect } from './dialect.js';

export type * from './ledger-types.js';
export type { AdapterNames, Dialect } from './dialect.js';
export { ScriptExecutionError, inTransaction } from './contracts/driver.js';
export type { DialectCapabilities, Driver, ErrorClassification, SqlSession } from './contracts/driver.js';
export { holdLock } from './contracts/locks.js';
export type { Locks } from './contracts/locks.js';
export type { MetaStore } from './contracts/meta-store.js';
export type { Registry, RegistryQueryOptions } from './contracts/registry.js';
export type { WorkspaceMemberInsert, WorkspaceStore, WorkspaceUpsert } from './contracts/workspace-store.js';
export type { LedgerStore } from './contracts/ledger-store.js';

/** The composed dialect (kept under its original exported name). */
export type DialectAdapter = Dialect;
