/**
 * Every command of every front is an operation of the command table
 * (src/server/commands/), which declares its access once: a test fails if
 * a front operation has none (docs/DESIGN.md, "Authentication"), and every
 * operation there is reachable from a front.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Access } from '../../src/auth/access.js';
import { Broker } from '../../src/broker/broker.js';
import { MQLiteService } from '../../src/protocol/grpc-definition.js';
import { DATA_FIELD, type TcpAction } from '../../src/protocol/tcp-actions.js';
import { COMMANDS, OPERATIONS, operationOfRequest } from '../../src/server/commands/table.js';
import { createApp } from '../../src/server/http/index.js';
import { opOfAction } from '../../src/server/tcp/actions.js';

const httpRoutes = () => createApp(new Broker(), { maxBodyBytes: 1024, sseHeartbeatMs: 0, sseMaxInflight: 1, logger: pino({ level: 'silent' }) }).routes;

const names = new Set(OPERATIONS.map((o) => o.name));
const isOperation = (op: unknown): boolean => {
  const access = op as Partial<Access> | undefined;
  return typeof access?.name === 'string' && names.has(access.name) && ['read', 'write', 'admin'].includes(access.permission!);
};

describe('the operation table covers every front', () => {
  it('declares each operation once, under its own name', () => {
    expect(names.size).toBe(OPERATIONS.length);
    for (const [name, cmd] of Object.entries(COMMANDS)) expect(cmd.name).toBe(name);
  });

  it('TCP: every action but auth names an operation', () => {
    for (const action of Object.keys(DATA_FIELD) as TcpAction[]) {
      const op = opOfAction(action);
      expect(op, `TCP action ${action}`).toBeDefined();
      if (action === 'auth') expect('permission' in op!).toBe(false);
      else expect(isOperation(op), `TCP action ${action} -> ${op!.name}`).toBe(true);
    }
  });

  it('gRPC: every RPC of MQLiteService names an operation', () => {
    for (const m of MQLiteService.methods) {
      const op = operationOfRequest(m.input);
      expect(op !== undefined && isOperation(op), `RPC ${m.name} -> ${String(op?.name)}`).toBe(true);
    }
  });

  it('HTTP: every route names an operation; only /health and the dashboard\'s files (/ui) are open', () => {
    for (const r of httpRoutes()) {
      if (r.path === '/health' || r.path === '/ui' || r.path.startsWith('/ui/')) expect(r.op).toBe('open');
      else expect(names.has(r.op), `${r.method} ${r.path} -> ${r.op}`).toBe(true);
    }
  });

  it('every operation is used by some front, and the same operation needs the same on every front', () => {
    const used = new Set<string>([
      ...Object.keys(DATA_FIELD).flatMap((a) => {
        const op = opOfAction(a);
        return op !== undefined && 'permission' in op ? [op.name] : [];
      }),
      ...MQLiteService.methods.map((m) => operationOfRequest(m.input)!.name),
      ...httpRoutes().map((r) => r.op),
    ]);
    for (const op of names) expect(used.has(op), `operation ${op} unused`).toBe(true);
  });

  it('reads, writes and admin are where the access rules put them', () => {
    const byPermission = (p: string) =>
      OPERATIONS.filter((o) => o.permission === p)
        .map((o) => o.name)
        .sort();
    expect(byPermission('write')).toEqual(['publish', 'publish_batch']);
    expect(byPermission('read')).toEqual(
      ['ack', 'consume', 'consume_dlq', 'get_topic_stats', 'list_namespaces', 'list_topics', 'metrics', 'nack', 'peek', 'renew_lease', 'subscribe'].sort(),
    );
    expect(byPermission('admin')).toContain('rewrite_aof');
    expect(byPermission('admin')).toContain('set_topic_policy');
  });
});
