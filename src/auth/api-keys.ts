/**
 * API keys (docs/DESIGN.md, "Authentication"), shared by the three fronts; no network code.
 *
 * - `authenticate(presented)` finds the key's principal in constant time:
 *   the presented key and every configured key are compared as SHA-256
 *   digests (equal lengths) with `crypto.timingSafeEqual`, and every
 *   configured key is compared, without an early exit, so the time taken
 *   tells nothing about which key matched or how much of it.
 * - `Principal.check(operation, namespace)` applies the operation's access: a cheap
 *   bit test and, for a key limited to namespaces, one Set lookup; it throws
 *   PERMISSION_DENIED with what is missing.
 * - Failures are counted by front and reason (exported as
 *   `mqlite_auth_failures_total` by GET /metrics) and logged at warn with
 *   the front, the remote address and the reason. The presented key is
 *   never logged, counted or put in an error message.
 *
 * No key configured: `enabled` is false and the fronts behave as before,
 * with `FULL_ACCESS` as everyone's principal.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { BrokerError, permissionDenied, unauthenticated } from '../broker/errors.js';
import { type Access, PERMISSIONS, type Permission } from './access.js';

/** One entry of `security.api_keys` (config.ts normalises plain strings to `{key}`). */
export interface ApiKeyConfig {
  key: string;
  /** Shown in logs and errors instead of the key; default `key-<position from 1>`. */
  name?: string;
  /** Absent: every namespace. */
  namespaces?: string[];
  /** Absent: read, write and admin. */
  permissions?: Permission[];
}

const BIT: Readonly<Record<Permission, number>> = { read: 1, write: 2, admin: 4 };
const ALL_BITS = BIT.read | BIT.write | BIT.admin;

/** Who sent a request, and what they may do. */
export class Principal {
  private readonly bits: number;

  constructor(
    /** For logs and messages: never the key. */
    readonly name: string,
    readonly permissions: readonly Permission[],
    /** Undefined: every namespace. */
    readonly namespaces: ReadonlySet<string> | undefined,
  ) {
    this.bits = permissions.reduce((b, p) => b | BIT[p], 0);
  }

  /** Every permission on every namespace: checks are no-ops. */
  get unrestricted(): boolean {
    return this.bits === ALL_BITS && this.namespaces === undefined;
  }

  /**
   * Throws PERMISSION_DENIED unless the key may run `op` on `namespace`.
   * A `namespace`-scoped operation without a namespace is refused to a key
   * limited to namespaces (fail closed).
   */
  check(op: Access, namespace: string | undefined): void {
    if ((this.bits & BIT[op.permission]) === 0) {
      throw permissionDenied(
        `API key '${this.name}' may not ${op.name}: that needs the ${op.permission} permission, and the key has ${this.permissions.join(', ') || 'none'}`,
      );
    }
    const allowed = this.namespaces;
    if (allowed === undefined || op.scope === 'list') return;
    if (op.scope === 'global') {
      throw permissionDenied(`API key '${this.name}' may not ${op.name}: it spans every namespace, and the key is limited to ${this.scopeText()}`);
    }
    if (namespace === undefined || !allowed.has(namespace)) {
      throw permissionDenied(`API key '${this.name}' may not ${op.name} in namespace '${namespace ?? ''}': the key is limited to ${this.scopeText()}`);
    }
  }

  /** The permission part of `check` alone, for a front that learns the namespace later (HTTP create namespace: from the body). */
  checkPermission(op: Access): void {
    if ((this.bits & BIT[op.permission]) === 0) this.check(op, undefined);
  }

  /** What list_namespaces shows this key: only its own namespaces when it is limited. */
  visible(names: string[]): string[] {
    const allowed = this.namespaces;
    return allowed === undefined ? names : names.filter((n) => allowed.has(n));
  }

  private scopeText(): string {
    return `namespace${this.namespaces!.size === 1 ? '' : 's'} ${[...this.namespaces!].map((n) => `'${n}'`).join(', ')}`;
  }
}

/** Everyone's principal when no key is configured. */
export const FULL_ACCESS = new Principal('(auth off)', PERMISSIONS, undefined);

export type AuthFront = 'tcp' | 'http' | 'grpc';
/** `missing`: no key sent (TCP: a first frame other than auth); `invalid`: no such key; `denied`: out of the key's scope. */
export type AuthFailureReason = 'missing' | 'invalid' | 'denied';

/** Failures by front and reason, as plain integers read at scrape time. */
export class AuthFailures {
  private readonly counts = new Map<string, number>();

  add(front: AuthFront, reason: AuthFailureReason): void {
    const k = `${front} ${reason}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  *entries(): IterableIterator<{ front: string; reason: string; count: number }> {
    for (const [k, count] of this.counts) {
      const [front, reason] = k.split(' ') as [string, string];
      yield { front, reason, count };
    }
  }
}

interface StoredKey {
  readonly digest: Buffer;
  readonly principal: Principal;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

export class ApiKeys {
  private readonly keys: readonly StoredKey[];
  readonly failures = new AuthFailures();

  /** `entries` come validated from config.ts (non-empty, distinct keys). */
  constructor(entries: readonly ApiKeyConfig[] = []) {
    this.keys = entries.map((e, i) => ({
      digest: digest(e.key),
      principal: new Principal(e.name ?? `key-${i + 1}`, e.permissions ?? PERMISSIONS, e.namespaces ? new Set(e.namespaces) : undefined),
    }));
  }

  /** Keys are configured: every front asks for one. */
  get enabled(): boolean {
    return this.keys.length > 0;
  }

  get size(): number {
    return this.keys.length;
  }

  /** The principal of `presented`, or undefined (no such key, or none given). Constant time over the configured keys. */
  authenticate(presented: string | undefined): Principal | undefined {
    if (presented === undefined || presented === '') return undefined;
    const d = digest(presented);
    let found: Principal | undefined;
    for (const k of this.keys) {
      // no early exit: every configured key costs the same comparison
      if (timingSafeEqual(d, k.digest)) found = k.principal;
    }
    return found;
  }

  /**
   * The principal of `presented`, or throws UNAUTHENTICATED after counting
   * and logging the failure. With auth off: FULL_ACCESS.
   */
  require(presented: string | undefined, front: AuthFront, remote: string | undefined, log: Logger): Principal {
    if (!this.enabled) return FULL_ACCESS;
    const p = this.authenticate(presented);
    if (p !== undefined) return p;
    const missing = presented === undefined || presented === '';
    this.reject(front, missing ? 'missing' : 'invalid', remote, log);
    throw missing ? missingKey(front) : unauthenticated('invalid API key');
  }

  /**
   * `check` that counts and logs a refusal. The fronts call this (not
   * `Principal.check`) so every refusal is seen in /metrics and the log.
   */
  authorize(principal: Principal, op: Access, namespace: string | undefined, front: AuthFront, remote: string | undefined, log: Logger): void {
    if (principal.unrestricted) return;
    try {
      principal.check(op, namespace);
    } catch (err) {
      this.reject(front, 'denied', remote, log, { key: principal.name, op: op.name, namespace });
      throw err;
    }
  }

  /** `authorize` for the permission alone, when the namespace is known only later (then `authorize` again). */
  authorizePermission(principal: Principal, op: Access, front: AuthFront, remote: string | undefined, log: Logger): void {
    if (principal.unrestricted) return;
    try {
      principal.checkPermission(op);
    } catch (err) {
      this.reject(front, 'denied', remote, log, { key: principal.name, op: op.name });
      throw err;
    }
  }

  /** Counts and logs one failure. Never given the presented key. */
  reject(front: AuthFront, reason: AuthFailureReason, remote: string | undefined, log: Logger, detail?: { key: string; op: string; namespace?: string }): void {
    this.failures.add(front, reason);
    log.warn({ front, remote, reason, ...detail }, reason === 'denied' ? 'permission denied' : 'authentication failed');
  }
}

/** No keys: what a front uses when it is given none (authentication off). */
export const NO_API_KEYS = new ApiKeys();

/** What to send, per front: the error says how to authenticate. */
export function missingKey(front: AuthFront): BrokerError {
  const how =
    front === 'http'
      ? 'send the header X-API-Key: <key> or Authorization: Bearer <key>'
      : front === 'grpc'
        ? 'send the metadata x-api-key: <key> or authorization: Bearer <key>'
        : 'send {"action":"auth","data":{"api_key":"<key>"}} (or the protobuf auth command) as the first frame of the connection';
  return unauthenticated(`an API key is required: ${how}`);
}

/**
 * The namespace a decoded request acts on (TCP commands and gRPC requests
 * share the field names): its `namespace`, else its `name` (create and
 * delete namespace); undefined for list namespaces.
 */
export function requestNamespace(req: object): string | undefined {
  const r = req as { namespace?: unknown; name?: unknown };
  const ns = r.namespace ?? r.name;
  return typeof ns === 'string' ? ns : undefined;
}

/** The key of an `Authorization: Bearer <key>` value; undefined for other schemes. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? m[1] : undefined;
}
