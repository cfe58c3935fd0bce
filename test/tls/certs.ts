/**
 * Throwaway PKI for the TLS tests, made with the openssl CLI in a temporary
 * directory: a CA, a server certificate for 127.0.0.1 and localhost, a
 * client certificate signed by the CA, and a second CA with its own client
 * certificate (trusted by nobody).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  /** Paths of the PEM files. */
  paths: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string; otherClientCert: string; otherClientKey: string };
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  otherCa: Buffer;
  otherClientCert: Buffer;
  otherClientKey: Buffer;
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`]);
}

/** A key and a certificate signed by `ca`, with the given extensions. */
function makeLeaf(dir: string, name: string, ca: string, extensions: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

export function makePki(): Pki {
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`the TLS tests need the openssl command-line tool to make their certificates (apt-get install openssl): ${probe.error?.message ?? probe.stderr}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'mqlite-pki-'));
  makeCa(dir, 'ca');
  makeLeaf(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'other-client', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string): string => join(dir, f);
  const paths = {
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherCa: p('other-ca.pem'),
    otherClientCert: p('other-client.pem'),
    otherClientKey: p('other-client.key'),
  };
  const r = (f: string): Buffer => readFileSync(f);
  return {
    dir,
    paths,
    ca: r(paths.ca),
    serverCert: r(paths.serverCert),
    serverKey: r(paths.serverKey),
    clientCert: r(paths.clientCert),
    clientKey: r(paths.clientKey),
    otherCa: r(paths.otherCa),
    otherClientCert: r(paths.otherClientCert),
    otherClientKey: r(paths.otherClientKey),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
