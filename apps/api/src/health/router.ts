import { Router } from 'express';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import { allowOnly } from '../http/routes';

/**
 * `/healthz` says the process serves HTTP (for restarts); `/readyz` says its dependencies answer
 * (for load balancers), each within a short deadline so a hung dependency makes it fail, not hang.
 */

const CHECK_DEADLINE_MS = 2_000;

export function createHealthRouter(deps: ApiDependencies): Router {
  const router = Router();

  router
    .route('/healthz')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(allowOnly('GET'));

  router
    .route('/readyz')
    .get(async (_req, res) => {
      const [database, temporal] = await Promise.all([
        probe(() => deps.prisma.$queryRaw`SELECT 1`),
        probe(() =>
          deps.temporal.withDeadline(Date.now() + CHECK_DEADLINE_MS, () =>
            deps.temporal.workflowService.getSystemInfo({}),
          ),
        ),
      ]);
      const checks = { database, temporal };
      const down = Object.entries(checks)
        .filter(([, status]) => status !== 'up')
        .map(([name]) => name);
      if (down.length > 0) {
        deps.logger.warn({ checks }, 'not ready');
        // `dependency` as on every 503 of this API: the first one down (`checks` lists them all).
        throw problems.unavailable(`not ready: ${down.join(', ')} down`, { dependency: down[0], checks });
      }
      res.json({ status: 'ready', checks });
    })
    .all(allowOnly('GET'));

  return router;
}

type CheckStatus = 'up' | 'down' | 'timeout';

async function probe(check: () => Promise<unknown>): Promise<CheckStatus> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<CheckStatus>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), CHECK_DEADLINE_MS);
  });
  try {
    return await Promise.race([check().then((): CheckStatus => 'up'), deadline]);
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
