import { createDolphinSchedulerClient, DOLPHINSCHEDULER_DIALECTS, type DolphinSchedulerDialect } from '../../activities/dolphinscheduler/client';
import { describeScenarios } from './scenarios';

/**
 * The client against a real DolphinScheduler: the 3.1.1 standalone server that the global setup
 * starts (or reuses), or the one DOLPHINSCHEDULER_URL and DOLPHINSCHEDULER_TOKEN name, spoken to
 * in DOLPHINSCHEDULER_DIALECT (v3.1 unless set).
 */
function realTarget() {
  const { DOLPHINSCHEDULER_URL: baseUrl, DOLPHINSCHEDULER_TOKEN: token, DOLPHINSCHEDULER_TENANT: tenantCode } = process.env;
  if (!baseUrl || !token || !tenantCode) {
    throw new Error('DOLPHINSCHEDULER_URL, _TOKEN and _TENANT are unset: test/support/global-setup.ts provides them for test/dolphinscheduler/');
  }
  const dialect = (process.env.DOLPHINSCHEDULER_DIALECT ?? 'v3.1') as DolphinSchedulerDialect;
  if (!DOLPHINSCHEDULER_DIALECTS.includes(dialect)) throw new Error(`DOLPHINSCHEDULER_DIALECT=${dialect} is none of ${DOLPHINSCHEDULER_DIALECTS.join(', ')}`);
  return {
    client: createDolphinSchedulerClient({ baseUrl, token, dialect }),
    clientWithWrongToken: createDolphinSchedulerClient({ baseUrl, token: `${token}-unknown`, dialect }),
    tenantCode,
  };
}

describeScenarios('DolphinScheduler client against the real server', realTarget);
