import createPostgresSubscriber, { type Subscriber } from 'pg-listen';
import type { Logger } from '../../../common/logger';

/**
 * Live tails learn here that a run's step log grew: inserts into `step_logs` notify this channel
 * with the run id (a trigger, prisma/migrations/20261202200000_…). LISTEN/NOTIFY rather than
 * polling alone, because a tail then answers within milliseconds without a query a second per
 * open stream; streams still re-read every FALLBACK_POLL_MS, so a notification lost while the
 * listening connection was down delays entries, never loses them.
 */
const CHANNEL = 'step_logs';
export const LISTENER_APPLICATION_NAME = 'flowpilot-step-logs';
const CONNECTION_CHECK_MS = 5_000;
const CONNECTION_TIMEOUT_MS = 3_000;
const RECONNECT_MS = 5_000;

export class StepLogFeed {
  private subscriber?: Subscriber;
  private closed = false;
  private retry?: NodeJS.Timeout;
  private readonly waiters = new Map<string, Set<() => void>>();

  private constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Starts listening; resolves once the first attempt is over (tails poll until it succeeds). */
  static async start(databaseUrl: string, logger: Logger): Promise<StepLogFeed> {
    const feed = new StepLogFeed(databaseUrl, logger);
    await feed.connect();
    return feed;
  }

  get live(): boolean {
    return this.subscriber !== undefined;
  }

  /** Resolves when the run's log grows, after `timeoutMs`, or when `signal` aborts, whichever is first. */
  waitForRun(runId: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.waiters.get(runId) ?? new Set();
      this.waiters.set(runId, waiters);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(runId) === waiters) this.waiters.delete(runId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.subscriber?.close().catch(() => undefined);
    this.subscriber = undefined;
  }

  private async connect(): Promise<void> {
    const subscriber = createPostgresSubscriber(
      {
        connectionString: this.databaseUrl,
        application_name: LISTENER_APPLICATION_NAME,
        connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
        query_timeout: CONNECTION_TIMEOUT_MS,
      },
      // One try: pg-listen's own reconnection cannot be stopped; this feed reconnects with a new subscriber.
      { paranoidChecking: CONNECTION_CHECK_MS, retryLimit: 1, parse: (payload) => payload },
    );
    subscriber.notifications.on(CHANNEL, (runId: string) => [...(this.waiters.get(runId) ?? [])].forEach((wake) => wake()));
    subscriber.events.on('error', (error) => {
      if (this.subscriber !== subscriber || this.closed) return;
      this.logger.warn({ err: error, channel: CHANNEL }, 'step log feed lost its connection; live tails poll');
      this.subscriber = undefined;
      void subscriber.close().catch(() => undefined);
      this.scheduleConnect();
    });
    try {
      await subscriber.connect();
      await subscriber.listenTo(CHANNEL);
    } catch (error) {
      await subscriber.close().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn({ err: error, channel: CHANNEL }, 'step log feed cannot listen yet; live tails poll');
      this.scheduleConnect();
      return;
    }
    if (this.closed) {
      await subscriber.close().catch(() => undefined);
      return;
    }
    this.subscriber = subscriber;
  }

  private scheduleConnect(): void {
    this.retry = setTimeout(() => void this.connect(), RECONNECT_MS);
    this.retry.unref();
  }
}
