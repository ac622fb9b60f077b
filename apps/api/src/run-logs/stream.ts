import type { Request, Response } from 'express';
import type { PrismaClient } from '@prisma/client';
import type { Logger } from '../../../common/logger';
import { serveEventStream } from '../http/event-stream';
import type { StepLogFeed } from './feed';
import { readStepLogs, type LogFilters } from './read';

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
  const log = deps.logger.child({ runId: scope.runId });
  log.debug({ ip: req.ip }, 'step log stream opened');
  await serveEventStream(
    res,
    log,
    { name: 'step log stream', failureMessage: 'reading the step log failed; reconnect to resume' },
    async (stream) => {
      let position = after;
      while (!stream.signal.aborted) {
        const entries = await readStepLogs(deps.prisma, scope, filters, position, BATCH);
        for (const entry of entries) await stream.send({ id: entry.id, type: 'log', data: entry });
        position = entries.length > 0 ? BigInt(entries.at(-1)!.id) : position;
        if (entries.length === BATCH) continue;
        await (deps.stepLogFeed
          ? deps.stepLogFeed.waitForRun(scope.runId, FALLBACK_POLL_MS, stream.signal)
          : new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, FALLBACK_POLL_MS);
              stream.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
            }));
      }
    },
  );
}
