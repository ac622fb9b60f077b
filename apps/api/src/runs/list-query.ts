import { createHash } from 'node:crypto';
import { RUN_WORKFLOW_TYPE, type RunStatus } from '../../../../workflows/contract';
import { RunStatusKey, StartedByKey, TemplateIdKey, TemplateVersionKey, TenantIdKey } from '../../../../workflows/search-attributes';
import { problems } from '../http/problem';
import type { ListRunsQuery } from './schemas';

/**
 * Visibility queries for listing runs, and the opaque cursors handed out for paging them.
 * Every value is quoted by `quote`; filters were validated by zod before they get here.
 */

const RUNS_ONLY = `WorkflowType = ${quote(RUN_WORKFLOW_TYPE)} AND ExecutionStatus != 'ContinuedAsNew'`;

const OPEN = `ExecutionStatus = 'Running'`;
const COMPLETED = `ExecutionStatus = 'Completed'`;

/** Mirrors `runStatusOf`: which executions show a given run status. */
const statusClauses: Record<RunStatus, string> = {
  running: `(${OPEN} AND ${RunStatusKey.name} NOT IN ('waiting_approval', 'paused', 'held'))`,
  waiting_approval: `(${OPEN} AND ${RunStatusKey.name} = 'waiting_approval')`,
  paused: `(${OPEN} AND ${RunStatusKey.name} = 'paused')`,
  held: `(${OPEN} AND ${RunStatusKey.name} = 'held')`,
  succeeded: `(${COMPLETED} AND ${RunStatusKey.name} NOT IN ('failed', 'cancelled', 'timed_out'))`,
  failed: `((ExecutionStatus = 'Failed' AND ${RunStatusKey.name} != 'timed_out') OR (${COMPLETED} AND ${RunStatusKey.name} = 'failed'))`,
  cancelled: `(ExecutionStatus IN ('Canceled', 'Terminated') OR (${COMPLETED} AND ${RunStatusKey.name} = 'cancelled'))`,
  timed_out: `(ExecutionStatus = 'TimedOut' OR (ExecutionStatus IN ('Failed', 'Completed') AND ${RunStatusKey.name} = 'timed_out'))`,
};

/** Only the tenant's runs: the tenant is part of every query, so a cursor of one tenant's query is refused in another's. */
export function buildRunsQuery(tenantId: string, filters: Omit<ListRunsQuery, 'limit' | 'cursor'>): string {
  const clauses = [RUNS_ONLY, `${TenantIdKey.name} = ${quote(tenantId)}`];
  if (filters.templateId) clauses.push(`${TemplateIdKey.name} = ${quote(filters.templateId)}`);
  if (filters.version !== undefined) clauses.push(`${TemplateVersionKey.name} = ${Math.trunc(filters.version)}`);
  if (filters.startedBy) clauses.push(`${StartedByKey.name} = ${quote(filters.startedBy)}`);
  if (filters.startedAfter) clauses.push(`StartTime >= ${quote(new Date(filters.startedAfter).toISOString())}`);
  if (filters.startedBefore) clauses.push(`StartTime < ${quote(new Date(filters.startedBefore).toISOString())}`);
  if (filters.status?.length) {
    const statuses = [...new Set(filters.status)];
    clauses.push(statuses.length === 1 ? statusClauses[statuses[0]!] : `(${statuses.map((s) => statusClauses[s]).join(' OR ')})`);
  }
  return clauses.join(' AND ');
}

/** A string literal of the visibility query language: backslash and quote are escaped. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

interface CursorContent {
  /** Which query the token belongs to: Temporal's tokens are only meaningful for the same query. */
  q: string;
  t: string;
}

export function encodeCursor(query: string, pageToken: Uint8Array): string {
  const content: CursorContent = { q: fingerprint(query), t: Buffer.from(pageToken).toString('base64') };
  return Buffer.from(JSON.stringify(content)).toString('base64url');
}

export function decodeCursor(query: string, cursor: string): Uint8Array {
  let content: Partial<CursorContent>;
  try {
    content = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorContent>;
  } catch {
    throw invalidCursor('is not a cursor this API handed out');
  }
  if (typeof content.q !== 'string' || typeof content.t !== 'string') throw invalidCursor('is not a cursor this API handed out');
  if (content.q !== fingerprint(query)) throw invalidCursor('was handed out for other filters');
  return Buffer.from(content.t, 'base64');
}

function fingerprint(query: string): string {
  return createHash('sha256').update(query).digest('base64url').slice(0, 16);
}

function invalidCursor(message: string) {
  return problems.invalidParams('invalid cursor', [{ path: ['query', 'cursor'], message }]);
}
