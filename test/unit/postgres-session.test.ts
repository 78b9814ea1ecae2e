import { describe, expect, it } from 'vitest';
import { doBlock } from '../../src/dialect/postgres/postgres-syntax.js';
import { POSTGRES_SESSION_RESET, postgresTransactionGuard } from '../../src/dialect/postgres/postgres-session.js';

describe('PostgreSQL DO blocks and session hygiene', () => {
  it('doBlock picks a dollar-quote tag that the body does not contain', () => {
    expect(doBlock('BEGIN NULL; END')).toBe('DO $tm$BEGIN NULL; END$tm$');
    const hostile = "BEGIN PERFORM 'x$tm$; CREATE TABLE public.pwned(id int); DO $tm1$'; END";
    const block = doBlock(hostile);
    const tag = block.slice(3, block.indexOf('$', 4) + 1);
    expect(hostile.includes(tag)).toBe(false);
    expect(block).toBe(`DO ${tag}${hostile}${tag}`);
  });

  it('the reset has no statement that refuses a transaction block (DISCARD ALL), so it can ride in front of a request', () => {
    expect(POSTGRES_SESSION_RESET).not.toMatch(/DISCARD ALL/i);
    expect(POSTGRES_SESSION_RESET).toMatch(/RESET ALL/);
  });

  it('the guard marks and checks the same token', () => {
    const token = '2b1c7c1e-1111-4222-8333-444455556666';
    expect(postgresTransactionGuard.begin(token)).toContain(token);
    expect(postgresTransactionGuard.check(token)).toContain(token);
    expect(postgresTransactionGuard.isViolation({ code: 'TM003' })).toBe(true);
    expect(postgresTransactionGuard.isViolation({ code: '23505' })).toBe(false);
  });
});
