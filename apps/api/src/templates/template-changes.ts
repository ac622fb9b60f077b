import type { Prisma } from '@prisma/client';
import type { Logger } from '../../../common/logger';
import { ChannelListener } from '../channel-listener';

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

/** What a cache needs from the feed: changes as they happen, and when it may have missed some. */
export interface TemplateChanges {
  /** False while not listening: a change could go unseen, so nothing cached may be served. */
  readonly live: boolean;
  onChange(listener: (templateId: string) => void): void;
  /** Listening (again): changes made while not listening are unknown, so start afresh. */
  onResync(listener: () => void): void;
}

export class TemplateChangeFeed implements TemplateChanges {
  private listener?: ChannelListener;
  private readonly changeListeners: ((templateId: string) => void)[] = [];
  private readonly resyncListeners: (() => void)[] = [];

  private constructor() {}

  /**
   * Starts listening in the background and resolves once the first attempt is over; until the feed
   * is live (the database may be down), caches simply read through.
   */
  static async start(databaseUrl: string, logger: Logger): Promise<TemplateChangeFeed> {
    const feed = new TemplateChangeFeed();
    feed.listener = await ChannelListener.start({
      databaseUrl,
      logger,
      channel: CHANNEL,
      applicationName: LISTENER_APPLICATION_NAME,
      describe: { name: 'template change feed', whileDown: 'caches read through' },
      onNotification: (templateId) => feed.changeListeners.forEach((listener) => listener(templateId)),
      onListening: () => feed.resyncListeners.forEach((listener) => listener()),
    });
    return feed;
  }

  get live(): boolean {
    return this.listener?.live ?? false;
  }

  /** How many times the feed started listening, the first time included; each started afresh. */
  get sessions(): number {
    return this.listener?.sessions ?? 0;
  }

  onChange(listener: (templateId: string) => void): void {
    this.changeListeners.push(listener);
  }

  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }
}
