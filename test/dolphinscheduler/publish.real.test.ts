import { publishingScenarios } from '../publishing/scenarios';

/**
 * Publishing end to end against a real DolphinScheduler: the 3.1.1 standalone server the global
 * setup starts (or reuses), or the one DOLPHINSCHEDULER_URL, _TOKEN and _TENANT name, spoken to in
 * DOLPHINSCHEDULER_DIALECT (v3.1 unless set).
 */
publishingScenarios(async () => {
  const { DOLPHINSCHEDULER_URL: url, DOLPHINSCHEDULER_TOKEN: token, DOLPHINSCHEDULER_TENANT: tenantCode } = process.env;
  if (!url || !token || !tenantCode) {
    throw new Error('DOLPHINSCHEDULER_URL, _TOKEN and _TENANT are unset: test/support/global-setup.ts provides them for test/dolphinscheduler/');
  }
  const dialect = process.env.DOLPHINSCHEDULER_DIALECT === 'v3.3' ? 'v3.3' : 'v3.1';
  return { url, token, dialect, tenantCode };
});
