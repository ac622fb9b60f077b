import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../apps/api/src/app';
import { TemplateChangeFeed } from '../../apps/api/src/templates/template-changes';
import { createPrismaClient } from '../../apps/common/database';
import { createLogger } from '../../apps/common/logger';
import { call, startApi, type Api } from './harness';

let api: Api;
beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api.close();
});

test('GET /healthz is ok', async () => {
  const answer = await call(api, 'GET', '/healthz');
  expect(answer).toMatchObject({ status: 200, body: { status: 'ok' } });
  expect(answer.headers.get('x-request-id')).toBeTruthy();
});

test('GET /readyz reports the database and Temporal up', async () => {
  const answer = await call(api, 'GET', '/readyz');
  expect(answer).toMatchObject({ status: 200, body: { status: 'ready', checks: { database: 'up', temporal: 'up' } } });
});

test('GET /openapi.json documents the templates API from the zod schemas', async () => {
  const answer = await call(api, 'GET', '/openapi.json');
  expect(answer.status).toBe(200);
  expect(answer.body.openapi).toBe('3.1.0');
  expect(Object.keys(answer.body.paths)).toEqual(
    expect.arrayContaining([
      '/api/v1/templates',
      '/api/v1/templates/{id}',
      '/api/v1/templates/{id}/versions',
      '/api/v1/templates/{id}/versions/{number}',
      '/api/v1/templates/{id}/versions/{from}/diff/{to}',
      '/api/v1/templates/{id}/versions/{number}/rollback',
      '/api/v1/templates/validate',
    ]),
  );
  expect(answer.body.components.schemas).toHaveProperty('Spec');
  expect(answer.body.components.schemas).toHaveProperty('Problem');
  expect(answer.body.paths['/api/v1/templates'].post.requestBody.content).toHaveProperty('application/yaml');
});

test('GET /docs serves Swagger UI from local assets', async () => {
  const page = await call(api, 'GET', '/docs/');
  expect(page.status).toBe(200);
  expect(page.contentType).toContain('text/html');
  expect(page.body).toContain('swagger-ui');
  const script = await call(api, 'GET', '/docs/swagger-ui-bundle.js');
  expect(script.status).toBe(200);
  const init = await call(api, 'GET', '/docs/swagger-ui-init.js');
  expect(init.body).toContain('/openapi.json');
});

test('a caller-chosen request id is echoed and put on problems', async () => {
  const answer = await call(api, 'GET', '/nowhere', { headers: { 'x-request-id': 'trace-123' } });
  expect(answer.headers.get('x-request-id')).toBe('trace-123');
  expect(answer.body.requestId).toBe('trace-123');
});

test('GET /readyz is a 503 problem naming the dependency that is down', async () => {
  const logger = createLogger('flowpilot-api-test', 'silent');
  // Port 1 on loopback refuses connections: a database that is down.
  const databaseUrl = 'postgresql://nobody:nothing@127.0.0.1:1/none';
  const prisma = createPrismaClient(databaseUrl);
  const templateChanges = await TemplateChangeFeed.start(databaseUrl, logger);
  const app = createApp({ prisma, temporal: api.temporal, taskQueue: 'unused', logger, templateChanges });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ detail: 'not ready: database down', checks: { database: 'down', temporal: 'up' } });
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await prisma.$disconnect();
    await templateChanges.close();
  }
});
