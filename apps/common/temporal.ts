import { Connection, Client, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import { searchAttributeKeys } from '../../workflows/search-attributes';
import { SearchAttributeType, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export interface TemporalTarget {
  address: string;
  namespace: string;
  /** The deadline of every call that sets none of its own (`withDeadline`), its retries included. */
  callTimeoutMs: number;
  /** The payload codec (crypto/payload-codec.ts) when configured: the same as the worker's. */
  payloadCodecs?: PayloadCodec[];
}

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/**
 * A client whose calls never wait without limit. Without a deadline the SDK retries a call to an
 * unreachable server for about 20 s, and waits for a hung one forever. The connection is made on
 * the first call, so the API starts, and serves what needs no Temporal, while Temporal is down.
 */
/** What the API accepts in one answer from Temporal: pages of history with large payloads among them. */
const MAX_RECEIVED_MESSAGE_BYTES = 64 * 1024 * 1024;

export function createTemporalClient(target: TemporalTarget): Client {
  const connection = Connection.lazy({
    address: target.address,
    // First, so that the retry interceptor after it retries within the deadline, not past it.
    interceptors: [defaultDeadline(target.callTimeoutMs), makeGrpcRetryInterceptor(defaultGrpcRetryOptions())],
    // gRPC's 4 MB default would refuse a page of history holding a few events near Temporal's 2 MB
    // payload limit; the server's own messages may be larger than that, so the client accepts them.
    channelArgs: { 'grpc.max_receive_message_length': MAX_RECEIVED_MESSAGE_BYTES },
  });
  return new Client({ connection, namespace: target.namespace, dataConverter: { payloadCodecs: target.payloadCodecs ?? [] } });
}

function defaultDeadline(timeoutMs: number): GrpcInterceptor {
  // gRPC only uses the interface of what the next interceptor returns; its type names the class.
  return (options, nextCall) =>
    nextCall({ ...options, deadline: options.deadline ?? Date.now() + timeoutMs }) as ReturnType<GrpcInterceptor>;
}

const indexedValueTypes: Record<SearchAttributeType, temporal.api.enums.v1.IndexedValueType> = {
  [SearchAttributeType.TEXT]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  [SearchAttributeType.KEYWORD]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.INT]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  [SearchAttributeType.DOUBLE]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  [SearchAttributeType.BOOL]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  [SearchAttributeType.DATETIME]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  [SearchAttributeType.KEYWORD_LIST]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * Registers the run search attributes on the namespace; safe to call from every process at start-up.
 * Only the ones not yet present are added, so restarts and pools of workers do not race on errors.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const present = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = searchAttributeKeys.filter((key) => !present.has(key.name));
  if (missing.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedValueTypes[key.type]])),
    });
  } catch (error) {
    // Another process registered them first: the outcome we wanted.
    if ((error as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw error;
  }
}
