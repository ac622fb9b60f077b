import type { Request, Response } from 'express';
import type { ApiDependencies } from '../dependencies';
import { serveEventStream } from '../http/event-stream';
import { formatRunEventId, type RunEvent } from './history-events';
import { readRunEvents, type RunHistoryPosition } from './history-reader';

/**
 * Streams a run's events as Server-Sent Events until the run finishes or the client leaves.
 * Each event's `id:` is its stable event id, so a reconnecting EventSource sends it back as
 * Last-Event-ID and continues exactly after it.
 */
export async function streamRunEvents(
  deps: ApiDependencies,
  req: Request,
  res: Response,
  position: RunHistoryPosition,
): Promise<void> {
  const log = deps.logger.child({ runId: position.runId });
  log.debug({ after: position.after, ip: req.ip }, 'run event stream opened');
  await serveEventStream(
    res,
    log,
    { name: 'run event stream', failureMessage: 'reading the run history failed; reconnect to resume' },
    async (stream) => {
      for await (const event of readRunEvents(deps, position, { follow: true, signal: stream.signal })) {
        await stream.send({ id: event.id, type: event.type, data: event });
        if (event.type === 'run.finished') break;
      }
    },
  );
}

export interface RunEventsPage {
  events: RunEvent[];
  nextCursor: string | null;
  finished: boolean;
}

/** The events recorded so far after a cursor, without waiting: for clients that poll. */
export async function readRunEventsPage(deps: ApiDependencies, position: RunHistoryPosition, limit: number): Promise<RunEventsPage> {
  const events: RunEvent[] = [];
  let exhausted = true;
  for await (const event of readRunEvents(deps, position, { follow: false })) {
    events.push(event);
    if (events.length >= limit) {
      exhausted = false;
      break;
    }
  }
  const last = events.at(-1);
  const after = position.after ? formatRunEventId(position.after.temporalRunId, position.after.eventId, position.after.index) : null;
  return {
    events,
    nextCursor: last?.id ?? after,
    // A run closed before reading began has nothing more to come once its history is read to the end.
    finished: last?.type === 'run.finished' || (exhausted && position.closedBeforeReading),
  };
}
