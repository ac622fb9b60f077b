import type { Logger } from '../../../common/logger';
import { ChannelListener } from '../channel-listener';

/**
 * Live tails learn here that a run's step log grew: inserts into `step_logs` notify this channel
 * with the run id (a trigger, prisma/migrations/20261202200000_…). LISTEN/NOTIFY rather than
 * polling alone, because a tail then answers within milliseconds without a query a second per
 * open stream; streams still re-read every FALLBACK_POLL_MS, so a notification lost while the
 * listening connection was down delays entries, never loses them.
 */
const CHANNEL = 'step_logs';
export const LISTENER_APPLICATION_NAME = 'flowpilot-step-logs';

export class StepLogFeed {
  private listener?: ChannelListener;
  private readonly waiters = new Map<string, Set<() => void>>();

  private constructor() {}

  /** Starts listening; resolves once the first attempt is over (tails poll until it succeeds). */
  static async start(databaseUrl: string, logger: Logger): Promise<StepLogFeed> {
    const feed = new StepLogFeed();
    feed.listener = await ChannelListener.start({
      databaseUrl,
      logger,
      channel: CHANNEL,
      applicationName: LISTENER_APPLICATION_NAME,
      describe: { name: 'step log feed', whileDown: 'live tails poll' },
      onNotification: (runId) => feed.wake(runId),
    });
    return feed;
  }

  get live(): boolean {
    return this.listener?.live ?? false;
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
    await this.listener?.close();
  }

  private wake(runId: string): void {
    [...(this.waiters.get(runId) ?? [])].forEach((wake) => wake());
  }
}
