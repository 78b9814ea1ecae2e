/**
 * A database URL with every password replaced by `***`, for messages, logs and reports. Covers the
 * forms a URL may carry one in:
 *
 * - user info: `postgres://user:p@ss@host/db` (a password may hold an unencoded `@`: the user info
 *   ends at the *last* `@` before the path, query or fragment);
 * - query parameters: `?password=…`, `&pwd=…` (node-postgres and tedious read them);
 * - ADO.NET strings: `Password=…;` / `Pwd=…;`, also quoted (`Password="a;b@c"`, `Password='x'`).
 *
 * @example
 * redactUrl('postgres://app:p@ss@db:5432/app?sslmode=require&password=x')
 * // → 'postgres://app:***@db:5432/app?sslmode=require&password=***'
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^/?#]*@/i, '$1***@')
    .replace(/([?&](?:password|pwd)=)[^&#]*/gi, '$1***')
    .replace(/((?:^|;)\s*(?:password|pwd)\s*=\s*)("(?:[^"]|"")*"|'(?:[^']|'')*'|[^;]*)/gi, '$1***');
}
