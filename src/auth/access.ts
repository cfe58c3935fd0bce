/**
 * What an API key may do (docs/DESIGN.md, "Authentication"): one of the
 * permissions read, write or admin, and a scope:
 *
 * - `namespace`: acts inside one namespace; a key limited to namespaces
 *   must list it (create/delete namespace: the namespace being created or
 *   deleted).
 * - `list`: lists namespaces; a limited key is allowed and sees only its own.
 * - `global`: spans every namespace (AOF rewrite, metrics); refused to a key
 *   limited to namespaces.
 *
 * Each operation declares its access once, beside its input and result
 * mapping, in the fronts' command table (src/server/commands/); a front
 * cannot add a command without one (test/auth/operations.test.ts walks the
 * fronts).
 */

export type Permission = 'read' | 'write' | 'admin';
export const PERMISSIONS: readonly Permission[] = ['read', 'write', 'admin'];

export type Scope = 'namespace' | 'list' | 'global';

/** An operation as the key check sees it: its name (for messages), permission and scope. */
export interface Access {
  readonly name: string;
  readonly permission: Permission;
  readonly scope: Scope;
}
