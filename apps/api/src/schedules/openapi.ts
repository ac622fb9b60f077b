import { z } from 'zod';
import { problemResponse, problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import {
  BackfillBody,
  CreateScheduleBody,
  PauseBody,
  ScheduleAccepted,
  ScheduleList,
  ScheduleResource,
  TriggerBody,
  UpdateScheduleBody,
} from './schemas';

/** A template's schedules in the OpenAPI document; imported by the router so the two cannot drift apart. */

const tags = ['Schedules'];
const BASE = '/api/v1/templates/{id}/schedules';
const TemplateParams = z.object({ id: z.uuid() });
const ScheduleParams = TemplateParams.extend({ scheduleId: z.string().meta({ example: 'schedule-3f6c2a9e-0d1b-4c1e-9a8f-2b7d5e4c3a10' }) });
const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: z.ZodType, required = true) => ({ body: { required, content: { 'application/json': { schema } } } });
const invalidSchedule = problemResponse(422, 'A cron expression or time zone Temporal refuses');
const archived = problemResponse(409, 'The template is archived');

registry.registerPath({
  method: 'get',
  path: BASE,
  tags,
  summary: "The template's schedules (from Temporal's visibility: one made a moment ago may not be listed yet)",
  request: { params: TemplateParams },
  responses: { 200: json('Every schedule of the template, oldest first', ScheduleList), ...problemResponses(404) },
});

registry.registerPath({
  method: 'post',
  path: BASE,
  tags,
  summary: 'Create a schedule (operator): runs of a pinned version, or of the latest at each firing, on a cron clock',
  request: { params: TemplateParams, ...body(CreateScheduleBody) },
  responses: { 201: json('The schedule', ScheduleResource), ...problemResponses(404), 409: archived, 422: invalidSchedule },
});

registry.registerPath({
  method: 'get',
  path: `${BASE}/{scheduleId}`,
  tags,
  summary: 'A schedule: its spec, whether it is paused, its next firings and recent runs',
  request: { params: ScheduleParams },
  responses: { 200: json('The schedule', ScheduleResource), ...problemResponses(404) },
});

registry.registerPath({
  method: 'patch',
  path: `${BASE}/{scheduleId}`,
  tags,
  summary: 'Change a schedule (operator); fields left out keep their value',
  request: { params: ScheduleParams, ...body(UpdateScheduleBody) },
  responses: { 200: json('The schedule', ScheduleResource), ...problemResponses(404), 409: archived, 422: invalidSchedule },
});

registry.registerPath({
  method: 'delete',
  path: `${BASE}/{scheduleId}`,
  tags,
  summary: 'Delete a schedule (operator); its runs in flight go on',
  request: { params: ScheduleParams },
  responses: { 204: { description: 'Deleted' }, ...problemResponses(404) },
});

for (const [action, summary] of [
  ['pause', 'Pause a schedule (operator): it fires no more until resumed'],
  ['resume', 'Resume a paused schedule (operator)'],
] as const) {
  registry.registerPath({
    method: 'post',
    path: `${BASE}/{scheduleId}/${action}`,
    tags,
    summary,
    request: { params: ScheduleParams, ...body(PauseBody, false) },
    responses: { 200: json('The schedule', ScheduleResource), ...problemResponses(404), ...(action === 'resume' ? { 409: archived } : {}) },
  });
}

registry.registerPath({
  method: 'post',
  path: `${BASE}/{scheduleId}/trigger`,
  tags,
  summary: 'Fire a schedule now (operator), paused or not',
  request: { params: ScheduleParams, ...body(TriggerBody, false) },
  responses: { 202: json('Accepted: the run shows in the schedule’s recentRuns once started', ScheduleAccepted), ...problemResponses(404), 409: archived },
});

registry.registerPath({
  method: 'post',
  path: `${BASE}/{scheduleId}/backfill`,
  tags,
  summary: 'Fire a schedule for every time its cron names in a past range (operator)',
  request: { params: ScheduleParams, ...body(BackfillBody) },
  responses: {
    202: json('Accepted: the runs show in the schedule’s recentRuns as they start', ScheduleAccepted),
    ...problemResponses(404),
    409: archived,
    422: problemResponse(422, 'The range is not in the past, is reversed, spans more than 31 days or reaches more than 366 days back'),
  },
});
