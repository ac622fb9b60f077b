import type { Request, Response } from 'express';
import type { PrismaClient } from '@prisma/client';
import type { Logger } from '../../../common/logger';
import type { StepLogFeed } from './feed';
import { readStepLogs, type LogFilters } from './read';

/** Proxies close connections that stay silent; a comment line keeps them open. */
const KEEP_ALIVE_MS = 15_000;
/** How often a tail reads again without a notification (the feed is down, or a notification was lost). */
export const FALLBACK_POLL_MS = 2_000;
const BATCH = 500;

/**
 * Streams a run's step log as Server-Sent Events (`event: log`, `id:` the entry id) until the
 * client leaves. A reconnecting EventSource sends the last id as Last-Event-ID and continues after it.
 */
export async function streamStepLogs(
  deps: { prisma: PrismaClient; logger: Logger; stepLogFeed?: StepLogFeed },
  req: Request,
  res: Response,
  scope: { tenantId: string; runId: string },
  filters: LogFilters,
  after: bigint | undefined,
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
  const log = deps.logger.child({ runId: scope.runId });
  let position = after;
  try {
    while (!disconnected.signal.aborted) {
      const entries = await readStepLogs(deps.prisma, scope, filters, position, BATCH);
      for (const entry of entries) res.write(`id: ${entry.id}\nevent: log\ndata: ${JSON.stringify(entry)}\n\n`);
      position = entries.length > 0 ? BigInt(entries.at(-1)!.id) : position;
      if (entries.length === BATCH) continue;
      await (deps.stepLogFeed
        ? deps.stepLogFeed.waitForRun(scope.runId, FALLBACK_POLL_MS, disconnected.signal)
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, FALLBACK_POLL_MS);
            disconnected.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
          }));
    }
  } catch (error) {
    log.error({ err: error }, 'step log stream failed');
    res.write(`event: error\ndata: ${JSON.stringify({ message: 'reading the step log failed; reconnect to resume' })}\n\n`);
  } finally {
    clearInterval(keepAlive);
    res.end();
    log.debug({ ip: req.ip }, 'step log stream closed');
  }
}
