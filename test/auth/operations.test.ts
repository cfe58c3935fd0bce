/**
 * Every command of every front is mapped to an operation of
 * src/auth/operations.ts (issue 7: "a test should fail if a front operation
 * is not mapped"), and every operation there is reachable from a front.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { OPERATIONS, isOperation } from '../../src/auth/operations.js';
import { Broker } from '../../src/broker/broker.js';
import { MQLiteService } from '../../src/protocol/grpc-definition.js';
import { GRPC_OPERATIONS } from '../../src/server/grpc/handlers.js';
import { createApp } from '../../src/server/http/index.js';
import { ACTIONS } from '../../src/server/tcp/commands.js';
import { handlers } from '../../src/server/tcp/handlers.js';

const httpRoutes = () => createApp(new Broker(), { maxBodyBytes: 1024, sseHeartbeatMs: 0, sseMaxInflight: 1, logger: pino({ level: 'silent' }) }).routes;

describe('the operation table covers every front', () => {
  it('TCP: every action but auth names an operation', () => {
    for (const action of ACTIONS) {
      const op = handlers[action].op;
      if (action === 'auth') expect(op).toBeUndefined();
      else expect(op !== undefined && isOperation(op), `TCP action ${action} -> ${String(op)}`).toBe(true);
    }
  });

  it('gRPC: every RPC of MQLiteService names an operation', () => {
    for (const m of MQLiteService.methods) {
      const op = (GRPC_OPERATIONS as Record<string, string | undefined>)[m.localName];
      expect(op !== undefined && isOperation(op), `RPC ${m.name} -> ${String(op)}`).toBe(true);
    }
  });

  it('HTTP: every route names an operation; only /health is open', () => {
    for (const r of httpRoutes()) {
      if (r.path === '/health') expect(r.op).toBe('open');
      else expect(isOperation(r.op), `${r.method} ${r.path} -> ${r.op}`).toBe(true);
    }
  });

  it('every operation is used by some front, and the same operation needs the same on every front', () => {
    const used = new Set<string>([
      ...ACTIONS.map((a) => handlers[a].op).filter((o) => o !== undefined),
      ...Object.values(GRPC_OPERATIONS),
      ...httpRoutes().map((r) => r.op),
    ]);
    for (const op of Object.keys(OPERATIONS)) expect(used.has(op), `operation ${op} unused`).toBe(true);
  });

  it('reads, writes and admin are where the issue puts them', () => {
    const byPermission = (p: string) =>
      Object.entries(OPERATIONS)
        .filter(([, r]) => r.permission === p)
        .map(([o]) => o)
        .sort();
    expect(byPermission('write')).toEqual(['publish', 'publish_batch']);
    expect(byPermission('read')).toEqual(
      ['ack', 'consume', 'consume_dlq', 'get_topic_stats', 'list_namespaces', 'list_topics', 'metrics', 'nack', 'peek', 'renew_lease', 'subscribe'].sort(),
    );
    expect(byPermission('admin')).toContain('rewrite_aof');
    expect(byPermission('admin')).toContain('set_topic_policy');
  });
});
