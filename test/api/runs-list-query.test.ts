import { ProblemError } from '../../apps/api/src/http/problem';
import { buildRunsQuery, decodeCursor, encodeCursor, quote } from '../../apps/api/src/runs/list-query';
import { ListRunsQuerySchema } from '../../apps/api/src/runs/schemas';

const TENANT = '7d4c1a52-3f0e-4c8b-9a61-2b5e8f0c1d2e';

describe('runs visibility query', () => {
  it('always restricts to run workflows of the tenant and skips continued-as-new links', () => {
    expect(buildRunsQuery(TENANT, {})).toBe(
      `WorkflowType = 'runTemplate' AND ExecutionStatus != 'ContinuedAsNew' AND TenantId = '${TENANT}'`,
    );
  });

  it('combines filters, normalising times and quoting strings', () => {
    const filters = ListRunsQuerySchema.parse({
      templateId: '0b0c5a3e-5d0f-4b7e-9a51-4b0f6a1c2d3e',
      version: '2',
      startedBy: "o'brien",
      startedAfter: '2026-01-01T01:00:00+01:00',
      status: 'paused',
    });
    expect(buildRunsQuery(TENANT, filters)).toBe(
      [
        `WorkflowType = 'runTemplate' AND ExecutionStatus != 'ContinuedAsNew'`,
        `TenantId = '${TENANT}'`,
        `TemplateId = '0b0c5a3e-5d0f-4b7e-9a51-4b0f6a1c2d3e'`,
        `TemplateVersion = 2`,
        `StartedBy = 'o\\'brien'`,
        `StartTime >= '2026-01-01T00:00:00.000Z'`,
        `(ExecutionStatus = 'Running' AND RunStatus = 'paused')`,
      ].join(' AND '),
    );
  });

  it('ORs several statuses', () => {
    const query = buildRunsQuery(TENANT, ListRunsQuerySchema.parse({ status: 'failed,cancelled' }));
    expect(query).toContain(`AND (((ExecutionStatus = 'Failed' AND`);
    expect(query).toContain(`) OR (ExecutionStatus IN ('Canceled', 'Terminated')`);
  });

  it('refuses unknown statuses, bad times and unknown filters', () => {
    for (const bad of [{ status: 'done' }, { startedAfter: 'yesterday' }, { version: '0' }, { sort: 'x' }, { startedBy: 'a\nb' }, { startedBy: 'a\\b' }]) {
      expect(ListRunsQuerySchema.safeParse(bad).success).toBe(false);
    }
  });

  it('quotes backslashes before quotes', () => {
    expect(quote(`a\\'b`)).toBe(`'a\\\\\\'b'`);
  });
});

describe('runs cursor', () => {
  it('round-trips the page token for the same query only', () => {
    const token = new Uint8Array([1, 2, 250]);
    const cursor = encodeCursor('q1', token);
    expect(Array.from(decodeCursor('q1', cursor))).toEqual([1, 2, 250]);
    expect(() => decodeCursor('q2', cursor)).toThrow(ProblemError);
    expect(() => decodeCursor('q1', 'not-a-cursor')).toThrow(ProblemError);
  });
});
