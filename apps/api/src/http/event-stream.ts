import { once } from 'node:events';
import type { Response } from 'express';
import type { Logger } from '../../../common/logger';

/** Proxies and load balancers close connections that stay silent; a comment line keeps them open. */
const KEEP_ALIVE_MS = 15_000;

export interface EventStream {
  /** Aborted when the client leaves. */
  readonly signal: AbortSignal;
  /** Writes one Server-Sent Event; a slow client is waited for rather than buffered in memory. */
  send(event: { id: string; type: string; data: unknown }): Promise<void>;
}

/**
 * Answers with a Server-Sent Events stream and keeps it alive while `produce` writes events, until
 * `produce` returns or the client leaves. Headers are sent before the first event, so a failure can
 * only travel inside the stream: it is logged and sent as an `error` event the client may reconnect after.
 */
export async function serveEventStream(
  res: Response,
  log: Logger,
  describe: { name: string; failureMessage: string },
  produce: (stream: EventStream) => Promise<void>,
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
  const stream: EventStream = {
    signal: disconnected.signal,
    async send({ id, type, data }) {
      if (!res.write(`id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`)) {
        await once(res, 'drain', { signal: disconnected.signal }).catch(() => undefined);
      }
    },
  };
  try {
    await produce(stream);
  } catch (error) {
    log.error({ err: error }, `${describe.name} failed`);
    res.write(`event: error\ndata: ${JSON.stringify({ message: describe.failureMessage })}\n\n`);
  } finally {
    clearInterval(keepAlive);
    res.end();
    log.debug({ aborted: disconnected.signal.aborted }, `${describe.name} closed`);
  }
}
