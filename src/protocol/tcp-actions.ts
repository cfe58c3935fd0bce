/**
 * The actions of the raw TCP protocol (docs/PROTOCOL.md, "TCP framing") and,
 * for each, the field number of its `data` in the `TCPCommand` and
 * `TCPResponse` protobuf messages (the JSON encoding names the action
 * instead). Server and client both read them from here.
 */
export const DATA_FIELD = {
  create_namespace: 10,
  delete_namespace: 11,
  list_namespaces: 12,
  create_topic: 13,
  delete_topic: 14,
  list_topics: 15,
  publish: 16,
  consume: 17,
  subscribe: 18,
  ack: 19,
  resize_topic: 20,
  rebalance_topic: 21,
  publish_batch: 22,
  nack: 23,
  renew_lease: 24,
  peek: 25,
  consume_dlq: 26,
  redrive_dlq: 27,
  set_topic_policy: 28,
  get_topic_stats: 29,
  auth: 30,
  pause_topic: 31,
  resume_topic: 32,
  purge: 33,
} as const;

export type TcpAction = keyof typeof DATA_FIELD;

/** The `data` oneof's field range in both messages. */
export const FIRST_DATA_FIELD = 10;
export const LAST_DATA_FIELD = 33;
