import sql from 'mssql';
import { describe, expect, it } from 'vitest';
import { classifyMssqlError, mssqlErrorLine, mssqlErrorNumber } from '../../src/dialect/mssql/mssql-errors.js';

/** A server error as mssql wraps it: a tedious RequestError with `info`, inside mssql's RequestError. */
function serverError(number: number, message = `error ${number}`, lineNumber = 1): Error {
  const tedious = Object.assign(new Error(message), { code: 'EREQUEST', info: { number, lineNumber, state: 1, class: 16 } });
  return new sql.RequestError(tedious as never);
}

function connectionError(code: string, message = code): Error {
  return new sql.ConnectionError(Object.assign(new Error(message), { code }) as never);
}

describe('classifyMssqlError', () => {
  it.each([1205, 1222, 4060, 40501, 40613, 49918, 49919, 49920, 10928, 10929, 40197, 233, 10053, 10054, 10060, -2])(
    'server error %i is transient and keeps its number',
    (number) => {
      expect(classifyMssqlError(serverError(number))).toEqual({ transient: true, code: number, message: `error ${number}` });
    },
  );

  it.each([
    [102, 'Incorrect syntax near'],
    [208, 'Invalid object name'],
    [2714, 'There is already an object named'],
    [547, 'The INSERT statement conflicted with the FOREIGN KEY constraint'],
    [18456, 'Login failed for user'],
    [50000, 'RAISERROR from a migration'],
  ])('server error %i is permanent', (number, message) => {
    expect(classifyMssqlError(serverError(number, message))).toEqual({ transient: false, code: number, message });
  });

  it.each(['ESOCKET', 'ETIMEOUT', 'ECONNRESET', 'ECONNCLOSED'])('connection error %s is transient', (code) => {
    expect(classifyMssqlError(connectionError(code))).toMatchObject({ transient: true, code });
  });

  it("Babelfish's generic number: a serialization failure or lock timeout is transient, a missing table is not", () => {
    const bf = (message: string) => Object.assign(new Error(message), { number: 33557097 });
    expect(classifyMssqlError(bf('could not serialize access due to concurrent update'))).toMatchObject({ transient: true, code: 33557097 });
    expect(classifyMssqlError(bf('canceling statement due to lock timeout')).transient).toBe(true);
    expect(classifyMssqlError(bf('relation "db_s.t" does not exist')).transient).toBe(false);
  });

  it('login failure without a number is permanent', () => {
    expect(classifyMssqlError(connectionError('ELOGIN', 'Login failed for user sa'))).toMatchObject({ transient: false, code: 'ELOGIN' });
  });

  it('a request timeout is transient', () => {
    const err = new sql.RequestError('Timeout: Request failed to complete in 15000ms', 'ETIMEOUT');
    expect(classifyMssqlError(err)).toMatchObject({ transient: true, code: 'ETIMEOUT' });
  });

  it('finds a deadlock among preceding errors and in causes', () => {
    const last = Object.assign(serverError(3998, 'Uncommittable transaction'), { precedingErrors: [serverError(1205)] });
    expect(classifyMssqlError(last)).toMatchObject({ transient: true, code: 3998 });
    expect(classifyMssqlError(new Error('wrapped', { cause: serverError(40613) }))).toMatchObject({ transient: true });
  });

  it('a raw Node socket error is transient', () => {
    expect(classifyMssqlError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toEqual({
      transient: true,
      code: 'ECONNRESET',
      message: 'read ECONNRESET',
    });
  });

  it('an AggregateError of socket errors is transient', () => {
    const agg = new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'Could not connect');
    expect(classifyMssqlError(connectionError('ESOCKET')).transient).toBe(true);
    expect(classifyMssqlError(agg).transient).toBe(true);
  });

  it('anything else is permanent', () => {
    expect(classifyMssqlError(new Error('boom'))).toEqual({ transient: false, message: 'boom' });
    expect(classifyMssqlError('text')).toEqual({ transient: false, message: 'text' });
    expect(classifyMssqlError(undefined)).toEqual({ transient: false, message: 'undefined' });
  });
});

describe('error details', () => {
  it('reads the number and the batch line', () => {
    const err = serverError(207, 'Invalid column name', 3);
    expect(mssqlErrorNumber(err)).toBe(207);
    expect(mssqlErrorLine(err)).toBe(3);
    expect(mssqlErrorLine(new Error('x'))).toBeUndefined();
  });
});
