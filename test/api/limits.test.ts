import { createHash, randomUUID } from 'node:crypto';
import { toProblem } from '../../apps/api/src/http/errors';
import { MAX_START_PAYLOAD_BYTES } from '../../apps/api/src/runs/start';
import { call, expectProblem, startApi, tokenFor, uniqueName, type Api } from './harness';

/**
 * Per-credential rate limits, counted in PostgreSQL and so shared by every API instance, and the
 * bounds on what a start may hand the workflow. Runs are refused before Temporal is asked, so no
 * worker is needed: a start that got through would simply wait on its task queue.
 */

/** A short window keeps the refill test quick; the budgets are small so leases are of one point (exact counts). */
const WINDOW_SECONDS = 2;

describe('rate limits per credential', () => {
  let first: Api;
  let second: Api;

  beforeAll(async () => {
    const rateLimits = { readsPerMinute: 5, writesPerMinute: 0, durationSeconds: WINDOW_SECONDS };
    first = await startApi({ rateLimits });
    second = await startApi({ rateLimits, tenant: first.tenant });
  }, 60_000);

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  async function waitForFreshWindow(api: Api, token: string): Promise<void> {
    // Start on a window of our own: the first read opens it.
    const answer = await call(api, 'GET', '/api/v1/templates', { token });
    expect(answer.status).toBe(200);
  }

  it('shares one budget between instances, answers 429 with Retry-After after it, and refills', async () => {
    const token = await tokenFor(first, 'reader', ['viewer']);
    const other = await tokenFor(first, 'other-reader', ['viewer']);
    await waitForFreshWindow(first, token);

    const statuses: number[] = [];
    for (const api of [first, second, first, second]) statuses.push((await call(api, 'GET', '/api/v1/templates', { token })).status);
    expect(statuses).toEqual([200, 200, 200, 200]);

    const refused = await call(second, 'GET', '/api/v1/templates', { token });
    expectProblem(refused, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect(refused.headers.get('ratelimit-limit')).toBe('5');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(refused.body.detail).toMatch(/5 reads/);
    expectProblem(await call(first, 'GET', '/api/v1/templates', { token }), 429);

    // Another credential of the same tenant has its own budget; writes have theirs (off here).
    expect((await call(first, 'GET', '/api/v1/templates', { token: other })).status).toBe(200);
    const validate = await call(first, 'POST', '/api/v1/templates/validate', {
      token,
      json: { spec: { steps: [{ id: 'a', type: 'noop' }] } },
    });
    expect(validate.status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 200));
    const again = await call(second, 'GET', '/api/v1/templates', { token });
    expect(again.status).toBe(200);
    expect(Number(again.headers.get('ratelimit-remaining'))).toBeLessThan(5);
  }, 30_000);
});

describe('rate limits booked in leases', () => {
  let first: Api;
  let second: Api;

  beforeAll(async () => {
    // 300 a window: each instance books 3 points at a time and counts them down in memory.
    const rateLimits = { readsPerMinute: 300, writesPerMinute: 0, durationSeconds: 30 };
    first = await startApi({ rateLimits });
    second = await startApi({ rateLimits, tenant: first.tenant });
  }, 60_000);

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it('lets through the budget, less at most (lease - 1) per instance, never more', async () => {
    const token = await tokenFor(first, 'busy-reader', ['viewer']);
    let allowed = 0;
    for (let i = 0; i < 320; i++) {
      const answer = await call(i % 2 === 0 ? first : second, 'GET', '/api/v1/templates?limit=1', { token });
      if (answer.status === 200) allowed += 1;
      else expectProblem(answer, 429);
    }
    expect(allowed).toBeLessThanOrEqual(300);
    expect(allowed).toBeGreaterThanOrEqual(300 - 2 * 2);
  }, 60_000);
});

describe('rate limits with their store down', () => {
  let api: Api;

  beforeAll(async () => {
    // The API's database is up; only the limiter's store cannot be reached (nothing listens on port 1).
    api = await startApi({ rateLimits: { readsPerMinute: 1, writesPerMinute: 1, databaseUrl: 'postgresql://flowpilot@127.0.0.1:1/none' } });
  }, 60_000);

  afterAll(async () => {
    await api?.close();
  });

  it('fails open: requests go on past the budget rather than failing', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(api, 'GET', '/api/v1/templates')).status);
    expect(statuses).toEqual([200, 200, 200]);
  }, 30_000);
});

describe('run start bounds', () => {
  let api: Api;
  let wide: Api;

  beforeAll(async () => {
    api = await startApi();
    // An input bound raised so far that input and spec together pass Temporal's payload limit.
    wide = await startApi({ runInputMaxBytes: 1536 * 1024 });
  }, 60_000);

  afterAll(async () => {
    await api?.close();
    await wide?.close();
  });

  async function templateOf(target: Api, spec: unknown): Promise<string> {
    const answer = await call(target, 'POST', '/api/v1/templates', { json: { name: uniqueName('limits'), spec } });
    if (answer.status !== 201) throw new Error(`creating a template failed: ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
    return answer.body.id as string;
  }

  /** The run id a keyed start would get (start.ts): the caller is the harness's alice. */
  function keyedRunId(target: Api, key: string): string {
    return `run-${createHash('sha256').update(`${target.tenant.id}\nalice\n${key}`).digest('hex').slice(0, 32)}`;
  }

  it('refuses an input over RUN_INPUT_MAX_BYTES with 413 naming the limit', async () => {
    const templateId = await templateOf(api, { steps: [{ id: 'a', type: 'noop' }] });
    const key = randomUUID();
    const answer = await call(api, 'POST', '/api/v1/runs', {
      json: { templateId, input: { pad: 'x'.repeat(300 * 1024) } },
      headers: { 'idempotency-key': key },
    });
    expectProblem(answer, 413);
    expect(answer.body.detail).toMatch(/at most 262144 bytes/);
    expectProblem(await call(api, 'GET', `/api/v1/runs/${keyedRunId(api, key)}`), 404);
  }, 30_000);

  it('refuses a start whose spec and input together would pass the payload limit, fast and before Temporal', async () => {
    const spec = { steps: [{ id: 'big', type: 'noop', with: { output: 'y'.repeat(900 * 1024) } }] };
    const templateId = await templateOf(wide, spec);
    const key = randomUUID();
    const began = Date.now();
    const answer = await call(wide, 'POST', '/api/v1/runs', {
      json: { templateId, input: { pad: 'x'.repeat(1200 * 1024) } },
      headers: { 'idempotency-key': key },
    });
    expect(Date.now() - began).toBeLessThan(3_000);
    expectProblem(answer, 413);
    expect(answer.body.detail).toContain(String(MAX_START_PAYLOAD_BYTES));
    expectProblem(await call(wide, 'GET', `/api/v1/runs/${keyedRunId(wide, key)}`), 404);
  }, 30_000);

  it('answers 413, not 503 or 500, when Temporal refuses a message as too large', () => {
    const grpc = Object.assign(new Error('8 RESOURCE_EXHAUSTED: grpc: received message larger than max (4500000 vs. 4194304)'), {
      code: 8,
      details: 'grpc: received message larger than max (4500000 vs. 4194304)',
    });
    const wrapped = Object.assign(new Error('Failed to start workflow'), { cause: grpc });
    expect(toProblem(wrapped).status).toBe(413);
    const blob = Object.assign(new Error('3 INVALID_ARGUMENT: Blob data size exceeds limit.'), { code: 3, details: 'Blob data size exceeds limit.' });
    expect(toProblem(blob).status).toBe(413);
  });
});
