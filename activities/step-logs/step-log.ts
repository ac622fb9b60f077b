import type { Prisma, PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';

/**
 * Step logs: what a step records while it runs (the HTTP step's request and answer), kept in
 * PostgreSQL outside the run's history, read over `GET /api/v1/runs/:id/logs`.
 *
 * A step writes through its `StepLog` (StepContext.log); entries are queued in the worker's
 * `StepLogSink` and inserted in batches. A failing write never fails the step: the batch is
 * dropped with a warning, since the run's history still holds what the step did.
 */

export type StepLogLevel = 'info' | 'warn' | 'error';

/** What a step type writes to; each entry is bound to the run, step and attempt it belongs to. */
export interface StepLog {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** The attempt an entry belongs to. */
export interface StepLogScope {
  tenantId: string;
  runId: string;
  stepId: string;
  activityId: string;
  attempt: number;
}

/** A StepLog that keeps nothing: for runs without a tenant, and workers without a database. */
export const discardingStepLog: StepLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** How often queued entries are written, and how many one insert carries. */
const FLUSH_INTERVAL_MS = 200;
const BATCH_SIZE = 500;
/** Entries waiting beyond this are dropped (and counted in a warning): a database outage cannot grow the queue without bound. */
const MAX_QUEUED = 20_000;

export class StepLogSink {
  private queue: Prisma.StepLogEntryCreateManyInput[] = [];
  private dropped = 0;
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  /** The log of one attempt; `redact` hides the secrets substituted into its `with` from every entry. */
  forAttempt(scope: StepLogScope, redact: (text: string) => string): StepLog {
    const write = (level: StepLogLevel) => (message: string, data: Record<string, unknown> = {}) =>
      this.enqueue({
        ...scope,
        level,
        at: new Date(),
        message: redact(message),
        data: JSON.parse(redact(JSON.stringify(data))) as Prisma.InputJsonObject,
      });
    return { info: write('info'), warn: write('warn'), error: write('error') };
  }

  /** Writes everything queued so far; never rejects (a failed batch is logged and dropped). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writeQueued());
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private enqueue(entry: Prisma.StepLogEntryCreateManyInput): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.queue.push(entry);
  }

  private async writeQueued(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn({ dropped: this.dropped }, 'step log entries dropped: the queue was full');
      this.dropped = 0;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH_SIZE);
      try {
        await this.prisma.stepLogEntry.createMany({ data: batch });
      } catch (error) {
        this.logger.warn({ err: error, entries: batch.length, runIds: [...new Set(batch.map((e) => e.runId))] }, 'step log entries could not be written');
      }
    }
  }
}
