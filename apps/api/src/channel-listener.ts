import createPostgresSubscriber, { type Subscriber } from 'pg-listen';
import type { Logger } from '../../common/logger';

/** A half-open connection drops notifications silently; a trivial query this often finds it. */
const CONNECTION_CHECK_MS = 5_000;
/** A connection attempt or check that takes longer fails: a hung server must not pass for a live listener. */
const CONNECTION_TIMEOUT_MS = 3_000;
const RETRY_MS = { first: 250, max: 10_000 };

export interface ChannelListenerOptions {
  databaseUrl: string;
  logger: Logger;
  channel: string;
  /** How the listening connection shows in pg_stat_activity. */
  applicationName: string;
  /** For the log lines: what listens, and what its users do meanwhile while it cannot. */
  describe: { name: string; whileDown: string };
  onNotification(payload: string): void;
  /** Listening (again): whatever was notified while not listening is unknown. Called before `live` turns true. */
  onListening?(): void;
}

/**
 * LISTENs on one PostgreSQL channel over a connection of its own, and keeps doing so: a lost
 * connection is replaced by a new one, retried with backoff, until `close`.
 */
export class ChannelListener {
  private subscriber?: Subscriber;
  private listening = false;
  private listeningSessions = 0;
  private closed = false;
  private retry?: NodeJS.Timeout;

  private constructor(private readonly options: ChannelListenerOptions) {}

  /** Starts listening and resolves once the first attempt is over; later attempts go on in the background. */
  static async start(options: ChannelListenerOptions): Promise<ChannelListener> {
    const listener = new ChannelListener(options);
    await listener.connect(1);
    return listener;
  }

  get live(): boolean {
    return this.listening;
  }

  /** How many times the listener started listening, the first time included. */
  get sessions(): number {
    return this.listeningSessions;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    clearTimeout(this.retry);
    await this.subscriber?.close().catch(() => undefined);
    this.subscriber = undefined;
  }

  private async connect(attempt: number): Promise<void> {
    const { channel, logger, describe } = this.options;
    const subscriber = createPostgresSubscriber(
      {
        connectionString: this.options.databaseUrl,
        application_name: this.options.applicationName,
        connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
        query_timeout: CONNECTION_TIMEOUT_MS,
      },
      {
        paranoidChecking: CONNECTION_CHECK_MS,
        // pg-listen's own reconnection loop cannot be stopped (closing leaves it retrying, and keeps
        // the process alive, while the database is down), so it gives up at once and this listener
        // reconnects with a new subscriber instead.
        retryLimit: 1,
        parse: (payload) => payload,
      },
    );
    subscriber.notifications.on(channel, (payload: string) => this.options.onNotification(payload));
    // The connection was lost (ended, failed, or a check went unanswered): start over with a new subscriber.
    subscriber.events.on('error', (error) => {
      if (this.subscriber !== subscriber || this.closed) return;
      logger.warn({ err: error, channel }, `${describe.name} lost its connection; ${describe.whileDown}`);
      this.listening = false;
      this.subscriber = undefined;
      void subscriber.close().catch(() => undefined);
      this.scheduleConnect(1);
    });
    try {
      await subscriber.connect();
      await subscriber.listenTo(channel);
    } catch (error) {
      await subscriber.close().catch(() => undefined);
      if (this.closed) return;
      logger.warn({ err: error, attempt, channel }, `${describe.name} cannot listen yet; ${describe.whileDown}`);
      this.scheduleConnect(attempt + 1);
      return;
    }
    if (this.closed) {
      await subscriber.close().catch(() => undefined);
      return;
    }
    this.subscriber = subscriber;
    this.options.onListening?.();
    this.listening = true;
    this.listeningSessions++;
    logger.debug({ channel }, `${describe.name} listening`);
  }

  private scheduleConnect(attempt: number): void {
    this.retry = setTimeout(() => void this.connect(attempt), backoff(attempt));
    this.retry.unref();
  }
}

function backoff(attempt: number): number {
  return Math.min(RETRY_MS.max, RETRY_MS.first * 2 ** (attempt - 1));
}
