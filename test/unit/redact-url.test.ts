import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/dialect/create-adapter.js';
import { redactMssqlUrl } from '../../src/dialect/mssql/mssql-url.js';

describe('redactUrl', () => {
  it.each([
    ['postgres://app:secret@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['postgres://app:p@ss@db:5432/app', 'postgres://app:***@db:5432/app'],
    ['mssql://sa:a@b@c@host:1433/db?encrypt=true', 'mssql://sa:***@host:1433/db?encrypt=true'],
    ['postgres://app@db/app?sslmode=require&password=secret', 'postgres://app@db/app?sslmode=require&password=***'],
    ['postgres://db/app?password=s3cr@t&application_name=x', 'postgres://db/app?password=***&application_name=x'],
    ['mssql://host/db?user=sa&PWD=x@y', 'mssql://host/db?user=sa&PWD=***'],
    ['Server=h;User Id=sa;Password=p@ss;Database=d', 'Server=h;User Id=sa;Password=***;Database=d'],
    ['Server=h;Pwd="a;b@c";Database=d', 'Server=h;Pwd=***;Database=d'],
    ["Server=h;Password='x''y';Database=d", 'Server=h;Password=***;Database=d'],
    ['postgres://host:5432/db?application_name=a@b', 'postgres://host:5432/db?application_name=a@b'],
  ])('%s → %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
    expect(redactMssqlUrl(url)).toBe(redacted);
  });

  it('never shows any character of a password', () => {
    for (const secret of ['p@ss', 'a@b@c', 'x;y', "q'z"]) {
      const forms = [`postgres://u:${encodeURIComponent(secret).replace(/%40/g, '@')}@h/d`, `postgres://h/d?password=${encodeURIComponent(secret)}`, `Server=h;Password="${secret}"`];
      for (const url of forms) expect(redactUrl(url)).not.toContain(encodeURIComponent(secret).replace(/%40/g, '@'));
    }
  });
});
