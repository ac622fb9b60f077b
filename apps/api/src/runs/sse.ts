import { once } from 'node:events';
import type { Request, Response } from 'express';
import type { ApiDependencies } from '../dependencies';
import { formatRunEventId, type RunEvent } from './history-events';
import { readRunEvents, type RunHistoryPosition } from './history-reader';

/** Proxies and load balancers close connections that stay silent; a comment line keeps them open. */
const KEEP_ALIVE_MS = 15_000;

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
  const disconnected = new AbortController();
  res.on('close', () => disconnected.abort());
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  const log = deps.logger.child({ runId: position.runId });
  log.debug({ after: position.after, ip: req.ip }, 'run event stream opened');
  try {
    for await (const event of readRunEvents(deps, position, { follow: true, signal: disconnected.signal })) {
      if (!res.write(formatServerSentEvent(event))) {
        // A slow client: wait for its socket to drain rather than buffer a long history in memory.
        await once(res, 'drain', { signal: disconnected.signal }).catch(() => undefined);
      }
      if (event.type === 'run.finished') break;
    }
  } catch (error) {
    // Headers are gone: the error can only travel inside the stream; the client may reconnect and resume.
    log.error({ err: error }, 'run event stream failed');
    res.write(`event: error\ndata: ${JSON.stringify({ message: 'reading the run history failed; reconnect to resume' })}\n\n`);
  } finally {
    clearInterval(keepAlive);
    res.end();
    log.debug({ aborted: disconnected.signal.aborted }, 'run event stream closed');
  }
}

export function formatServerSentEvent(event: RunEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
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
