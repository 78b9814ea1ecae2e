import { randomUUID } from 'node:crypto';
import type { MigrationFile, Tenant } from '../types.js';

/**
 * Render once, specialize per tenant. Most tenant templates read nothing of a tenant but its
 * identity — the schema (`{{schema}}`, `{{schemaName}}`) and the workspace id — so their text for
 * one tenant is their text for any other with those two values swapped. Rendering such a template
 * once per file (and target database) and swapping the values in is what makes a 10,000-tenant
 * deploy render 2 templates instead of 20,000 (twice: before the run and in it).
 *
 * Both are checked, not assumed. While a file is rendered for two made-up tenants, their registry
 * rows (`workspace.*`) are watched: a template that reads any field of it but the two identity ones
 * (`workspace_id`, `db_schema_name`) — directly, in an `{{#if}}`, through a partial or a helper,
 * or by listing its keys — keeps a full render per tenant, whatever the two texts say (two made-up
 * rows cannot stand for every value a branch may test). Then the swap is used only if it turns
 * the first text into the second exactly: a template that transforms the identity (a hash, a
 * prefix, a cut), or fails to render for them, keeps a full render per tenant; so does a tenant
 * whose schema name is not `ws_` + its workspace id without hyphens.
 */
export class TenantSpecializer {
  readonly #render: (file: MigrationFile, tenant: Tenant, watch?: WorkspaceWatch) => string;
  readonly #shapes = new Map<string, Shape | null>();
  readonly #once = new Set<string>();

  /** `render` builds the tenant's context; with `watch`, its `workspace` record is `watch(record)`. */
  constructor(render: (file: MigrationFile, tenant: Tenant, watch?: WorkspaceWatch) => string) {
    this.#render = render;
  }

  /** The file rendered for `tenant`: the same text a full render gives. */
  render(file: MigrationFile, tenant: Tenant): string {
    const id = identityOf(tenant);
    if (!id || !file.isTemplate) return this.#render(file, tenant);
    const key = `${file.path}\0${file.checksum}\0${tenant.target ?? ''}`;
    let shape = this.#shapes.get(key);
    if (shape === undefined) {
      // The first tenant of a file renders in full: a renderer used for one tenant (provisioning a
      // workspace) never pays for the proof. The second one learns the shape.
      if (!this.#once.has(key)) {
        this.#once.add(key);
        return this.#render(file, tenant);
      }
      this.#shapes.set(key, (shape = this.#learn(file, tenant.target ?? null)));
    }
    return shape ? fill(shape, id) : this.#render(file, tenant);
  }

  /** How many files (per target) render once; for tests and the bench. */
  get specialized(): number {
    return [...this.#shapes.values()].filter(Boolean).length;
  }

  #learn(file: MigrationFile, target: string | null): Shape | null {
    const a = sentinel('Active', target, 0);
    const b = sentinel('Archived', target, 1);
    let read = false;
    const watch: WorkspaceWatch = (record) => watched(record, () => (read = true));
    let textA: string;
    let textB: string;
    try {
      textA = this.#render(file, a, watch);
      textB = this.#render(file, b, watch);
    } catch {
      // The real tenant's own render reports the error, naming it.
      return null;
    }
    if (read) return null;
    const shape = shapeOf(textA, identityOf(a)!);
    return fill(shape, identityOf(b)!) === textB ? shape : null;
  }
}

/** What a renderer does to a tenant's `workspace` record before rendering (see {@link TenantSpecializer}). */
export type WorkspaceWatch = (record: Record<string, unknown>) => Record<string, unknown>;

/** Registry fields that are the tenant's identity (the swap proves how a template uses them). */
const IDENTITY_FIELDS = new Set(['workspace_id', 'db_schema_name']);

/** `record` behind a proxy that calls `onRead` when anything but an identity field is looked at. */
function watched(record: Record<string, unknown>, onRead: () => void): Record<string, unknown> {
  const field = (key: string | symbol) => {
    if (typeof key !== 'string' || !IDENTITY_FIELDS.has(key)) onRead();
  };
  return new Proxy(record, {
    get: (t, key, receiver) => (field(key), Reflect.get(t, key, receiver)),
    has: (t, key) => (field(key), Reflect.has(t, key)),
    getOwnPropertyDescriptor: (t, key) => (field(key), Reflect.getOwnPropertyDescriptor(t, key)),
    ownKeys: (t) => (onRead(), Reflect.ownKeys(t)),
  });
}

/** A tenant's identity as it appears in rendered text: the workspace id and its 32 hex digits. */
interface Identity {
  readonly uuid: string;
  readonly hex: string;
}

/** A rendered text cut at every place the identity appears. */
interface Shape {
  readonly parts: readonly string[];
  readonly kinds: readonly ('uuid' | 'hex')[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The identity of a tenant named the standard way (`ws_<workspace id without hyphens>`), else undefined. */
export function identityOf(tenant: Pick<Tenant, 'workspaceId' | 'schema'>): Identity | undefined {
  if (!UUID.test(tenant.workspaceId)) return undefined;
  const hex = tenant.workspaceId.replace(/-/g, '');
  return tenant.schema === `ws_${hex}` ? { uuid: tenant.workspaceId, hex } : undefined;
}

export function shapeOf(text: string, id: Identity): Shape {
  const parts: string[] = [];
  const kinds: ('uuid' | 'hex')[] = [];
  const pattern = new RegExp(`${id.uuid}|${id.hex}`, 'g');
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    parts.push(text.slice(last, m.index));
    kinds.push(m[0] === id.uuid ? 'uuid' : 'hex');
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return { parts, kinds };
}

export function fill(shape: Shape, id: Identity): string {
  let out = shape.parts[0]!;
  for (let i = 0; i < shape.kinds.length; i++) out += (shape.kinds[i] === 'uuid' ? id.uuid : id.hex) + shape.parts[i + 1]!;
  return out;
}

/** A made-up tenant; the two used for a proof differ in every registry field. */
function sentinel(status: Tenant['status'], target: string | null, n: number): Tenant {
  const workspaceId = randomUUID();
  return {
    workspaceId,
    name: `tenant-migrate sentinel ${n} ${randomUUID()}`,
    dbSchemaName: `ws_${workspaceId.replace(/-/g, '')}`,
    schema: `ws_${workspaceId.replace(/-/g, '')}`,
    status,
    lastSeenUtc: new Date(Date.UTC(2001 + n, n, 1 + n)),
    createdUtc: new Date(Date.UTC(1999 - n, 11 - n, 28 - n)),
    target,
    needsBackfill: n === 1,
  };
}
