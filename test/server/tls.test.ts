/**
 * TLS in the server process (cmd/mqlite.ts) and in mqlite-cli: a wrong
 * `server.tls` stops startup with exit 2 and a message naming the key and
 * the file; a broker with mutual TLS logs it and serves every front to a
 * client with a certificate, the CLI (--ca, --cert, --key) included.
 * `npm test` builds first; run `npm run build` before running this file alone.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverEntry, startServerProcess, type ServerProcess } from '../../bench/server-process.js';
import { runCli } from '../cli/harness.js';
import { makePki, type Pki } from '../tls/certs.js';

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki?.remove());

/** Runs the broker with `tls` as its server.tls section; returns its exit status and stderr. */
function startWith(tls: Record<string, string>, env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string } {
  const cfg = join(pki.dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  const lines = Object.entries(tls).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
  writeFileSync(cfg, `server:\n  grpc: { port: 0 }\n  http: { port: 0 }\n  tcp: { port: 0 }\n  tls:\n${lines.join('\n')}\npersistence:\n  enabled: false\n`);
  const r = spawnSync(process.execPath, [serverEntry, '--config', cfg], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('server.tls errors stop startup with exit 2, naming the key and the file', () => {
  it('only the certificate set', () => {
    const r = startWith({ cert: pki.paths.serverCert });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`'server.tls.cert' is set (${pki.paths.serverCert}) but 'server.tls.key' is not`);
  });

  it('only the key set', () => {
    const r = startWith({ key: pki.paths.serverKey });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`'server.tls.key' is set (${pki.paths.serverKey}) but 'server.tls.cert' is not`);
  });

  it('a key file that does not exist', () => {
    const missing = join(pki.dir, 'no-such.key');
    const r = startWith({ cert: pki.paths.serverCert, key: missing });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`'server.tls.key': cannot read ${missing}`);
  });

  it('a certificate file that is not PEM', () => {
    const garbage = join(pki.dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    const r = startWith({ cert: garbage, key: pki.paths.serverKey });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`'server.tls.cert': ${garbage} is not a PEM certificate`);
  });

  it('a key that is not the certificate’s', () => {
    const r = startWith({ cert: pki.paths.serverCert, key: pki.paths.clientKey });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`'server.tls.key': ${pki.paths.clientKey} is not the private key of the certificate in 'server.tls.cert'`);
  });

  it('a CA given through MQLITE_TLS_CA that cannot be read', () => {
    const missing = join(pki.dir, 'no-such-ca.pem');
    const r = startWith({ cert: pki.paths.serverCert, key: pki.paths.serverKey }, { MQLITE_TLS_CA: missing });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`'server.tls.ca': cannot read ${missing}`);
  });

  it('a CA without a certificate and key', () => {
    const r = startWith({ ca: pki.paths.ca });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`'server.tls.ca' is set (${pki.paths.ca}) but TLS is off`);
  });
});

describe('a broker without server.tls', () => {
  it('says at startup that TLS is off', async () => {
    const logs: Record<string, unknown>[] = [];
    const server = await startServerProcess({ persistence: false, onLog: (rec) => logs.push(rec) });
    await server.stop();
    expect(logs.find((l) => l.msg === 'mqlite ready')).toMatchObject({ tls: 'off', mtls: 'off' });
    expect(logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('TLS off'))).toBe(true);
  });
});

describe('a broker with mutual TLS', () => {
  let server: ServerProcess;
  const logs: Record<string, unknown>[] = [];
  beforeAll(async () => {
    server = await startServerProcess({
      persistence: false,
      onLog: (rec) => logs.push(rec),
      extraConfig: {
        server: {
          host: '127.0.0.1',
          grpc: { port: 0 },
          http: { port: 0 },
          tcp: { port: 0 },
          tls: { cert: pki.paths.serverCert, key: pki.paths.serverKey, ca: pki.paths.ca },
        },
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('says at startup that TLS and mutual TLS are on', () => {
    expect(logs.find((l) => l.msg === 'mqlite ready')).toMatchObject({ tls: 'on', mtls: 'on' });
    expect(logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('TLS on'))).toMatchObject({ tls: 'on', mtls: 'on', cert: pki.paths.serverCert });
  });

  const tlsArgs = (): string[] => ['--tls-ca', pki.paths.ca, '--tls-cert', pki.paths.clientCert, '--tls-key', pki.paths.clientKey];
  const portOf = (proto: string): number => (proto === 'http' ? server.ports.http : proto === 'grpc' ? server.ports.grpc : server.ports.tcp);

  for (const proto of ['tcp', 'tcp-json', 'http', 'grpc']) {
    it(`mqlite-cli --proto ${proto} with --tls-ca, --tls-cert and --tls-key publishes and consumes; without a certificate it fails with exit 1 and the reason`, async () => {
      const base = ['--proto', proto, '--port', String(portOf(proto))];
      const ns = `ns-${proto}`;
      for (const cmd of [['ns', 'create', ns], ['topic', 'create', ns, 't']]) {
        const r = await runCli([...base, ...tlsArgs(), ...cmd]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      // pub's own --key (the routing key) is not taken for --tls-key.
      const pub = await runCli([...base, ...tlsArgs(), '--json', 'pub', ns, 't', '{"over":"tls"}', '--key', 'customer-42']);
      expect(pub.code).toBe(0);
      const got = await runCli([...base, ...tlsArgs(), '--json', 'consume', ns, 't', '0', '--auto-ack']);
      expect(got.json()).toMatchObject([{ id: pub.json().message_id, payload: { over: 'tls' } }]);

      const refused = await runCli([...base, '--tls-ca', pki.paths.ca, 'ns', 'list']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/certificate required[\s\S]*requires a client certificate/);
    });
  }

  it('mqlite-cli --tls-cert without --tls-key is a usage error (exit 2)', async () => {
    const r = await runCli(['--port', String(server.ports.tcp), '--tls-cert', pki.paths.clientCert, 'ns', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--tls-cert' needs '--tls-key' too");
  });

  it('mqlite-cli --tls-ca with a file that cannot be read is a usage error (exit 2) naming it', async () => {
    const missing = join(pki.dir, 'absent-ca.pem');
    const r = await runCli(['--port', String(server.ports.tcp), '--tls-ca', missing, 'ns', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`option '--tls-ca <file>' cannot read ${missing}`);
  });
});
