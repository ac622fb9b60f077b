import { temporal } from '@temporalio/proto';

const { History } = temporal.api.history.v1;

/**
 * How histories are stored: protobufjs's own JSON form of the History message (int64 and bytes as
 * strings, enums by name). The SDK's `historyToJSON`/`historyFromJSON` would be the natural choice,
 * but in this install @temporalio/common carries its own copy of protobufjs, which rejects the
 * message types of @temporalio/proto ("type must be a Type"); this form round-trips with one copy.
 */
export function toHistoryFile(history: temporal.api.history.v1.IHistory): string {
  const message = History.fromObject(history as Record<string, unknown>);
  return `${JSON.stringify(History.toObject(message, { longs: String, enums: String, bytes: String }), null, 1)}\n`;
}

export function fromHistoryFile(json: string): temporal.api.history.v1.History {
  return History.fromObject(JSON.parse(json) as Record<string, unknown>);
}
