import type { Request, Response } from 'express';
import type { PrismaClient } from '@prisma/client';
import type { Client, WorkflowExecutionStatusName } from '@temporalio/client';
import type { Logger } from '../../../common/logger';
import { serveEventStream } from '../http/event-stream';
import { isClosed } from '../runs/run-status';
import type { StepLogFeed } from './feed';
import { readStepLogs, type LogFilters } from './read';

/** How often a tail reads again without a notification (the feed is down, or a notification was lost). */
export const FALLBACK_POLL_MS = 2_000;
const BATCH = 500;

/**
 * Streams a run's step log as Server-Sent Events (`event: log`, `id:` the entry id) until the
 * client leaves or the run has ended and its last entry was sent: then an `event: end` frame
 * (`data: { status }`, the execution's) and the stream closes. A reconnecting EventSource sends
 * the last id as Last-Event-ID and continues after it.
 *
 * Every attempt's entries are written before its activity reports back, so a run that closed
 * before a read has nothing to come after it. Whether it closed is asked of Temporal at most once
 * per FALLBACK_POLL_MS, so a busy tail costs no more than one describe per interval.
 */
export async function streamStepLogs(
  deps: { prisma: PrismaClient; logger: Logger; temporal: Client; stepLogFeed?: StepLogFeed },
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
      const handle = deps.temporal.workflow.getHandle(scope.runId);
      let position = after;
      let askedAt = -Infinity;
      while (!stream.signal.aborted) {
        let closedAs: WorkflowExecutionStatusName | undefined;
        if (Date.now() - askedAt >= FALLBACK_POLL_MS) {
          askedAt = Date.now();
          // Temporal out of reach: the tail goes on from PostgreSQL and asks again next interval.
          const status = await handle.describe().then(
            (description) => description.status.name,
            (error: unknown) => void log.debug({ err: error }, 'whether the run ended is unknown for now'),
          );
          if (status !== undefined && isClosed(status)) closedAs = status;
        }
        const entries = await readStepLogs(deps.prisma, scope, filters, position, BATCH);
        for (const entry of entries) await stream.send({ id: entry.id, type: 'log', data: entry });
        position = entries.length > 0 ? BigInt(entries.at(-1)!.id) : position;
        if (entries.length === BATCH) continue;
        if (closedAs !== undefined) {
          await stream.send({ id: position === undefined ? '0' : String(position), type: 'end', data: { status: closedAs } });
          return;
        }
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
