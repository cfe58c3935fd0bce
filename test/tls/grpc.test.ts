/** TLS on the gRPC front (grpc-js createSsl), with the HTTP/2 gRPC client: the Subscribe stream over TLS included. */
import { GrpcClient } from '../../src/client/grpc/index.js';
import { startGrpcServer } from '../../src/server/grpc/index.js';
import { tlsSuite } from './suite.js';

tlsSuite({
  name: 'gRPC',
  start: (broker, tls, logger) => startGrpcServer(broker, { host: '127.0.0.1', port: 0, maxMessageBytes: 1024 * 1024, logger, tls, shutdownTimeoutMs: 2000 }),
  client: async (port, tls) => new GrpcClient({ host: '127.0.0.1', port, timeoutMs: 10_000, tls }),
  logsHandshakes: false,
});
