import type { Request, Response } from 'express';
import type { PrismaClient } from '@prisma/client';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionStatusName, type WorkflowHandle } from '@temporalio/client';
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
 * the last id as Last-Event-ID and continues after it; one that reconnects after the end, with
 * nothing after its id, gets a 204, which is what stops an EventSource from reconnecting.
 *
 * A run that completed or failed wrote every entry before it closed (an attempt's entries are
 * written before its activity reports back). One cancelled, terminated or timed out may leave an
 * attempt running that writes later: those entries are read with GET /logs, not tailed. Whether
 * the run closed is asked of Temporal at most once per FALLBACK_POLL_MS.
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
  const handle = deps.temporal.workflow.getHandle(scope.runId);
  if (after !== undefined && (await closedStatus(handle, log)) !== undefined && (await readStepLogs(deps.prisma, scope, filters, after, 1)).length === 0) {
    res.status(204).end();
    return;
  }
  log.debug({ ip: req.ip }, 'step log stream opened');
  await serveEventStream(
    res,
    log,
    { name: 'step log stream', failureMessage: 'reading the step log failed; reconnect to resume' },
    async (stream) => {
      let position = after;
      let askedAt = -Infinity;
      while (!stream.signal.aborted) {
        let closedAs: WorkflowExecutionStatusName | undefined;
        if (Date.now() - askedAt >= FALLBACK_POLL_MS) {
          askedAt = Date.now();
          closedAs = await closedStatus(handle, log);
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

/**
 * The run's status if it is closed (`UNKNOWN` for one Temporal no longer holds, past its
 * retention); undefined while it runs, or while Temporal cannot be asked (asked again later).
 */
async function closedStatus(handle: WorkflowHandle, log: Logger): Promise<WorkflowExecutionStatusName | undefined> {
  try {
    const { status } = await handle.describe();
    return isClosed(status.name) ? status.name : undefined;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return 'UNKNOWN';
    log.debug({ err: error }, 'whether the run ended is unknown for now');
    return undefined;
  }
}
