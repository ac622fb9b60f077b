import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { ApiDependencies } from '../dependencies';
import { isMessageTooLarge } from '../dependency-failures';
import { problems } from '../http/problem';
import { comesAfter, HistoryEventMapper, parseRunEventId, toNumber, type PayloadsDecoder, type RunEvent, type RunEventId } from './history-events';
import { describeRun } from './run-handle';
import { isClosed } from './run-status';

/**
 * Reads a run's events from its Temporal history, across continue-as-new: a run is one workflow id,
 * possibly many Temporal runs, each with its own history. Reading starts at the first Temporal run,
 * or at the one a resume cursor names, and goes on through `newExecutionRunId` links.
 */

/**
 * Events per page. An answer over gRPC's 4 MB message limit fails ("received message larger than
 * max"), and a step's events carry its rendered input and its result (60 KB each and more): a page
 * of 40 such events measured over 4 MB. A page that is still too large is asked for again at half
 * the size, when the error reaches here (the client's retries may turn it into a deadline first).
 */
export const HISTORY_PAGE_SIZE = 10;
/**
 * Temporal answers a long poll for new events after its long-poll interval (20 s by default) at the
 * latest, with no events if none happened; one that takes longer met a hung server.
 */
const LONG_POLL_DEADLINE_MS = 30_000;
const GRPC_NOT_FOUND = 5;

export interface RunHistoryPosition {
  runId: string;
  /** The Temporal run to start reading at. */
  temporalRunId: string;
  /** Events up to and including this one have been delivered already. */
  after?: RunEventId;
  closedBeforeReading: boolean;
}

/** Checks that the run exists in the tenant (404) and that a resume cursor belongs to it (400), before anything is sent. */
export async function locateRunHistory(
  deps: ApiDependencies,
  runId: string,
  tenantId: string,
  cursor: string | undefined,
): Promise<RunHistoryPosition> {
  const { description } = await describeRun(deps, runId, tenantId);
  const closedBeforeReading = isClosed(description.status.name);
  if (cursor === undefined || cursor === '') {
    return { runId, temporalRunId: description.raw.workflowExecutionInfo?.firstRunId || description.runId, closedBeforeReading };
  }
  const after = parseRunEventId(cursor);
  if (!after) throw invalidCursor(cursor, 'is not an event id of this API');
  try {
    await deps.temporal.workflowService.getWorkflowExecutionHistory({
      namespace: deps.temporal.options.namespace,
      execution: { workflowId: runId, runId: after.temporalRunId },
      maximumPageSize: 1,
    });
  } catch (error) {
    if ((error as { code?: number }).code === GRPC_NOT_FOUND) throw invalidCursor(cursor, `is not an event of run ${runId}`);
    throw error;
  }
  return { runId, temporalRunId: after.temporalRunId, after, closedBeforeReading };
}

export interface ReadOptions {
  /** Long-poll for events that have not happened yet (streaming) rather than stop at the current end. */
  follow: boolean;
  /** Stops reading, including a long poll in flight (the streaming client went away). */
  signal?: AbortSignal;
}

export async function* readRunEvents(
  deps: ApiDependencies,
  position: RunHistoryPosition,
  options: ReadOptions,
): AsyncGenerator<RunEvent> {
  const decode: PayloadsDecoder = (payloads) => decodeArrayFromPayloads(deps.temporal.options.loadedDataConverter, payloads);
  let temporalRunId: string | undefined = position.temporalRunId;
  while (temporalRunId && !options.signal?.aborted) {
    const mapper = new HistoryEventMapper(temporalRunId, decode);
    const after = position.after?.temporalRunId === temporalRunId ? position.after : undefined;
    let nextTemporalRunId: string | undefined;
    let pageToken: Uint8Array | undefined;
    let pageSize = HISTORY_PAGE_SIZE;
    do {
      const read = () =>
        deps.temporal.workflowService.getWorkflowExecutionHistory({
          namespace: deps.temporal.options.namespace,
          execution: { workflowId: position.runId, runId: temporalRunId },
          maximumPageSize: pageSize,
          waitNewEvent: options.follow,
          ...(pageToken ? { nextPageToken: pageToken } : {}),
        });
      // A long poll outlasts the client's default call deadline by design.
      let page;
      for (;;) {
        try {
          page = await abortable(deps, options.signal, () =>
            options.follow ? deps.temporal.withDeadline(Date.now() + LONG_POLL_DEADLINE_MS, read) : read(),
          );
          break;
        } catch (error) {
          if (!isMessageTooLarge(error) || pageSize === 1) throw error;
          pageSize = Math.max(1, Math.floor(pageSize / 2));
        }
      }
      if (!page) return;
      // Every event goes through the mapper, delivered or not: later events refer back to earlier ones.
      for (const historyEvent of page.history?.events ?? []) {
        for (const { event, index } of await mapper.mapAll(historyEvent)) {
          if (event.type === 'run.continued') nextTemporalRunId = event.nextRunId;
          if (comesAfter(toNumber(historyEvent.eventId), index, after)) yield event;
        }
      }
      pageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
    } while (pageToken && !options.signal?.aborted);
    temporalRunId = nextTemporalRunId;
  }
}

/**
 * Runs a (possibly long-polling) call that the client's disconnect cancels; undefined when it did.
 * Each call gets its own signal: the gRPC layer leaves a listener on the signal it is given, and a
 * stream makes a call every long-poll interval for as long as the run lasts.
 */
async function abortable<T>(deps: ApiDependencies, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T | undefined> {
  if (!signal) return call();
  const thisCall = new AbortController();
  const abortThisCall = () => thisCall.abort();
  signal.addEventListener('abort', abortThisCall, { once: true });
  try {
    return await deps.temporal.withAbortSignal(thisCall.signal, call);
  } catch (error) {
    if (signal.aborted) return undefined;
    throw error;
  } finally {
    signal.removeEventListener('abort', abortThisCall);
  }
}

function invalidCursor(cursor: string, message: string) {
  return problems.invalidParams('invalid event cursor', [{ path: ['after'], message: `${JSON.stringify(cursor)} ${message}` }]);
}
