/**
 * The SQL a read-only replay (`drift`) needs to run migrations inside one transaction that is
 * always rolled back: savepoints standing in for the migrations' own transactions, and a probe
 * that proves the outer transaction is still the one the replay opened.
 */
export interface ReplayTransactionSql {
  /** Run right after the outer BEGIN: marks the transaction so {@link probe} can recognise it. */
  readonly arm: string;
  /** One row with column `ok` = 1 while the armed transaction is open. */
  readonly probe: string;
  readonly savepoint: (name: string) => string;
  /** Keep the savepoint's work (empty: the dialect has no release). */
  readonly release: (name: string) => string;
  readonly rollbackTo: (name: string) => string;
}
