import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { createDolphinSchedulerClient, DOLPHINSCHEDULER_DIALECTS, type DolphinSchedulerDialect } from '../../activities/dolphinscheduler/client';
import { describeScenarios } from './scenarios';

/**
 * The client against a real DolphinScheduler: the 3.1.1 standalone server that the global setup
 * starts (or reuses), or the one DOLPHINSCHEDULER_URL and DOLPHINSCHEDULER_TOKEN (an
 * administrator's) name, spoken to in DOLPHINSCHEDULER_DIALECT (v3.1 unless set).
 */
const { DOLPHINSCHEDULER_URL: baseUrl, DOLPHINSCHEDULER_TOKEN: token, DOLPHINSCHEDULER_TENANT: tenantCode } = process.env;
const dialect = (process.env.DOLPHINSCHEDULER_DIALECT ?? 'v3.1') as DolphinSchedulerDialect;
let anotherUserToken: string;

beforeAll(async () => {
  if (!baseUrl || !token || !tenantCode) {
    throw new Error('DOLPHINSCHEDULER_URL, _TOKEN and _TENANT are unset: test/support/global-setup.ts provides them for test/dolphinscheduler/');
  }
  if (!DOLPHINSCHEDULER_DIALECTS.includes(dialect)) throw new Error(`DOLPHINSCHEDULER_DIALECT=${dialect} is none of ${DOLPHINSCHEDULER_DIALECTS.join(', ')}`);
  anotherUserToken = await tokenOfNewGeneralUser(baseUrl, token, tenantCode);
});

describeScenarios('DolphinScheduler client against the real server', () => ({
  client: createDolphinSchedulerClient({ baseUrl: baseUrl!, token: token!, dialect }),
  clientWithWrongToken: createDolphinSchedulerClient({ baseUrl: baseUrl!, token: `${token}-unknown`, dialect }),
  clientOfAnotherUser: createDolphinSchedulerClient({ baseUrl: baseUrl!, token: anotherUserToken, dialect }),
  tenantCode: tenantCode!,
}));

/** A general user granted nothing, and an access token of theirs (administrator calls, outside the client's scope). */
async function tokenOfNewGeneralUser(url: string, adminToken: string, tenant: string): Promise<string> {
  const call = async (method: 'GET' | 'POST', path: string, fields: Record<string, string>) => {
    const encoded = new URLSearchParams(fields).toString();
    const response = await request(method === 'GET' ? `${url}${path}?${encoded}` : `${url}${path}`, {
      method,
      headers: { token: adminToken, 'content-type': 'application/x-www-form-urlencoded' },
      body: method === 'POST' ? encoded : undefined,
    });
    const answer = (await response.body.json()) as { code: number; msg: string; data: unknown };
    if (answer.code !== 0) throw new Error(`${method} ${path}: ${answer.code} ${answer.msg}`);
    return answer.data;
  };
  const tenants = (await call('GET', '/tenants', { pageNo: '1', pageSize: '100', searchVal: tenant })) as { totalList: { id: number; tenantCode: string }[] };
  const tenantId = tenants.totalList.find((candidate) => candidate.tenantCode === tenant)?.id;
  if (tenantId === undefined) throw new Error(`tenant ${tenant} not found`);
  const name = `flowpilot${randomUUID().slice(0, 8)}`;
  const user = (await call('POST', '/users/create', {
    userName: name,
    userPassword: `pw${randomUUID().slice(0, 12)}`,
    tenantId: String(tenantId),
    email: `${name}@example.com`,
    state: '1',
  })) as { id: number };
  const expires = new Date(Date.now() + 24 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
  const issued = (await call('POST', '/access-tokens', { userId: String(user.id), expireTime: expires })) as { token: string };
  return issued.token;
}
