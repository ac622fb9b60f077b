import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../../common/logger';

const pinoLevels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Sends the SDK's logs (its own, and those of workflows and activities, which carry workflow id,
 * run id and activity id) to the process's structured logger. The worker's own lifecycle chatter
 * at info level (state changes, bundle statistics) is kept for debug.
 */
export function sdkLoggerFor(logger: Logger): DefaultLogger {
  return new DefaultLogger('INFO', ({ level, message, meta }: LogEntry) => {
    const pinoLevel = level === 'INFO' && meta?.sdkComponent === 'worker' ? 'debug' : pinoLevels[level];
    logger[pinoLevel](meta ?? {}, message);
  });
}
