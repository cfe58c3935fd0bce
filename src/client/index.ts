/**
 * The client package (`import … from 'mqlite'`, docs/CLIENT.md): connect()
 * and the client it returns, the worker and iterator types, and the three
 * protocol clients for code that wants one protocol without reconnects.
 */
export { connect, DEFAULT_URL, type ConnectOptions } from './connect.js';
export { parseUrl, type Endpoint, type Protocol } from './url.js';
export { Client, isRetryable, type ClientEvents, type ReconnectOptions, type Transport } from './client.js';
export { DoNotRetry, Job, RetryLater, Worker, type ConsumerOptions, type MessagesOptions, type Outcome, type WorkerHandler, type WorkerOptions } from './worker.js';
export * from './types.js';
export { TcpClient, type TcpClientOptions } from './tcp/index.js';
export { HttpClient, type HttpClientOptions } from './http/index.js';
export { GrpcClient, GrpcPublisher, type GrpcClientOptions, type GrpcPublisherOptions, type StreamPublishResult } from './grpc/index.js';
