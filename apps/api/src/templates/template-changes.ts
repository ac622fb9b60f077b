import type { Prisma } from '@prisma/client';
import createPostgresSubscriber, { type Subscriber } from 'pg-listen';
import type { Logger } from '../../../common/logger';

/**
 * Template rows change through any API instance. Each change is announced on this channel with
 * the template's id, and every instance listens so that it can drop what it cached.
 */
const CHANNEL = 'template_changed';

/** How the listening connection shows in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'flowpilot-template-changes';

/**
 * Announces that the template changes in `tx`. PostgreSQL sends the notification when `tx`
 * commits, and never if it rolls back. Every transaction that updates a template row calls this.
 */
export async function announceTemplateChange(tx: Prisma.TransactionClient, templateId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_notify(${CHANNEL}, ${templateId})`;
}

/** A half-open connection drops notifications silently; a trivial query this often finds it. */
const CONNECTION_CHECK_MS = 5_000;
/** A connection attempt or check that takes longer fails: a hung server must not pass for a live feed. */
const CONNECTION_TIMEOUT_MS = 3_000;
const RETRY_MS = { first: 250, max: 10_000 };

/** What a cache needs from the feed: changes as they happen, and when it may have missed some. */
export interface TemplateChanges {
  /** False while not listening: a change could go unseen, so nothing cached may be served. */
  readonly live: boolean;
  onChange(listener: (templateId: string) => void): void;
  /** Listening (again): changes made while not listening are unknown, so start afresh. */
  onResync(listener: () => void): void;
}

export class TemplateChangeFeed implements TemplateChanges {
  private subscriber?: Subscriber;
  private listening = false;
  private listeningSessions = 0;
  private closed = false;
  private retry?: NodeJS.Timeout;
  private readonly changeListeners: ((templateId: string) => void)[] = [];
  private readonly resyncListeners: (() => void)[] = [];

  private constructor(
    private readonly databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts listening in the background and resolves once the first attempt is over; until the feed
   * is live (the database may be down), caches simply read through.
   */
  static async start(databaseUrl: string, logger: Logger): Promise<TemplateChangeFeed> {
    const feed = new TemplateChangeFeed(databaseUrl, logger);
    await feed.connect(1);
    return feed;
  }

  get live(): boolean {
    return this.listening;
  }

  /** How many times the feed started listening, the first time included; each started afresh. */
  get sessions(): number {
    return this.listeningSessions;
  }

  onChange(listener: (templateId: string) => void): void {
    this.changeListeners.push(listener);
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listening = false;
    clearTimeout(this.retry);
    await this.subscriber?.close().catch(() => undefined);
  }

  private async connect(attempt: number): Promise<void> {
    const subscriber = createPostgresSubscriber(
      {
        connectionString: this.databaseUrl,
        application_name: LISTENER_APPLICATION_NAME,
        connectionTimeoutMillis: CONNECTION_TIMEOUT_MS,
        query_timeout: CONNECTION_TIMEOUT_MS,
      },
      {
        paranoidChecking: CONNECTION_CHECK_MS,
        // pg-listen's own reconnection loop cannot be stopped (closing leaves it retrying, and keeps
        // the process alive, while the database is down), so it gives up at once and this feed
        // reconnects with a new subscriber instead.
        retryLimit: 1,
        parse: (payload) => payload,
      },
    );
    subscriber.notifications.on(CHANNEL, (templateId: string) => this.changeListeners.forEach((listener) => listener(templateId)));
    // The connection was lost (ended, failed, or a check went unanswered): start over with a new subscriber.
    subscriber.events.on('error', (error) => {
      if (this.subscriber !== subscriber || this.closed) return;
      this.logger.warn({ err: error, channel: CHANNEL }, 'template change feed lost its connection; caches read through');
      this.listening = false;
      this.subscriber = undefined;
      void subscriber.close().catch(() => undefined);
      this.scheduleConnect(1);
    });
    try {
      await subscriber.connect();
      await subscriber.listenTo(CHANNEL);
    } catch (error) {
      await subscriber.close().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn({ err: error, attempt, channel: CHANNEL }, 'template change feed cannot listen yet; caches read through');
      this.scheduleConnect(attempt + 1);
      return;
    }
    if (this.closed) {
      await subscriber.close().catch(() => undefined);
      return;
    }
    this.subscriber = subscriber;
    this.goLive();
  }

  private scheduleConnect(attempt: number): void {
    this.retry = setTimeout(() => void this.connect(attempt), backoff(attempt));
    this.retry.unref();
  }

  private goLive(): void {
    this.resyncListeners.forEach((listener) => listener());
    this.listening = true;
    this.listeningSessions++;
    this.logger.debug({ channel: CHANNEL }, 'template change feed listening');
  }
}

function backoff(attempt: number): number {
  return Math.min(RETRY_MS.max, RETRY_MS.first * 2 ** (attempt - 1));
}
