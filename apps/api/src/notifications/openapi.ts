import { z } from 'zod';
import { problemResponse, problemResponses } from '../http/problem-schema';
import { registry } from '../openapi/registry';
import {
  ChannelIdParam,
  ChannelList,
  ChannelResource,
  ChannelTestResult,
  CreateChannelBody,
  DeliveryPage,
  ListNotificationsQuery,
  ListPeopleQuery,
  PersonList,
  PersonResource,
  PutPersonBody,
  PutSubscriptionBody,
  SubjectParam,
  SubscriptionList,
  SubscriptionResource,
  SubscriptionScopeParam,
  UpdateChannelBody,
} from './schemas';

/** Notifications in the OpenAPI document; imported by the router so the two cannot drift apart. */

const tags = ['Notifications'];
const json = (description: string, schema: z.ZodType) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema } } });
const ChannelParams = z.object({ id: ChannelIdParam });
const PersonParams = z.object({ subject: SubjectParam });
const ScopeParams = z.object({ scope: SubscriptionScopeParam });

registry.registerPath({
  method: 'get',
  path: '/api/v1/channels',
  tags,
  summary: "The tenant's notification channels (admin); secret settings by name only",
  responses: { 200: json('Every channel, by name', ChannelList) },
});
registry.registerPath({
  method: 'post',
  path: '/api/v1/channels',
  tags,
  summary: 'Create a channel (admin): webhook, slack, feishu, dingtalk, wecom or email; its secrets are stored as tenant secrets',
  request: { body: body(CreateChannelBody) },
  responses: {
    201: json('Created', ChannelResource),
    409: problemResponse(409, 'A channel of this name exists'),
    ...problemResponses(503),
  },
});
registry.registerPath({
  method: 'get',
  path: '/api/v1/channels/{id}',
  tags,
  summary: 'A channel (admin)',
  request: { params: ChannelParams },
  responses: { 200: json('The channel', ChannelResource), ...problemResponses(404) },
});
registry.registerPath({
  method: 'patch',
  path: '/api/v1/channels/{id}',
  tags,
  summary: 'Change a channel (admin): name, locale, enabled, settings; secrets given are replaced',
  request: { params: ChannelParams, body: body(UpdateChannelBody) },
  responses: {
    200: json('Changed', ChannelResource),
    409: problemResponse(409, 'A channel of this name exists'),
    422: problemResponse(422, 'The settings or secrets do not fit the channel’s kind'),
    ...problemResponses(404),
  },
});
registry.registerPath({
  method: 'delete',
  path: '/api/v1/channels/{id}',
  tags,
  summary: 'Delete a channel (admin), its secrets and its place in subscriptions; its deliveries stay listed',
  request: { params: ChannelParams },
  responses: { 204: { description: 'Deleted' }, ...problemResponses(404) },
});
registry.registerPath({
  method: 'post',
  path: '/api/v1/channels/{id}/test',
  tags,
  summary: 'Send a test message through the channel (admin) and answer with what the receiver said',
  request: { params: ChannelParams },
  responses: { 200: json('What happened', ChannelTestResult), ...problemResponses(404) },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/people',
  tags,
  summary: "The tenant's directory of people notices address (admin)",
  request: { query: ListPeopleQuery },
  responses: { 200: json('People, by subject', PersonList) },
});
registry.registerPath({
  method: 'get',
  path: '/api/v1/people/{subject}',
  tags,
  summary: 'A person (admin)',
  request: { params: PersonParams },
  responses: { 200: json('The person', PersonResource), ...problemResponses(404) },
});
registry.registerPath({
  method: 'put',
  path: '/api/v1/people/{subject}',
  tags,
  summary: 'Create or replace a person (admin): name, e-mail, IM user ids, roles',
  request: { params: PersonParams, body: body(PutPersonBody) },
  responses: { 201: json('Created', PersonResource), 200: json('Replaced', PersonResource), ...problemResponses(422) },
});
registry.registerPath({
  method: 'delete',
  path: '/api/v1/people/{subject}',
  tags,
  summary: 'Remove a person from the directory (admin)',
  request: { params: PersonParams },
  responses: { 204: { description: 'Removed' }, ...problemResponses(404) },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/subscriptions',
  tags,
  summary: "The tenant's subscriptions (admin): its default and per template",
  responses: { 200: json('Every subscription', SubscriptionList) },
});
registry.registerPath({
  method: 'get',
  path: '/api/v1/subscriptions/{scope}',
  tags,
  summary: 'A subscription (admin)',
  request: { params: ScopeParams },
  responses: { 200: json('The subscription', SubscriptionResource), ...problemResponses(404) },
});
registry.registerPath({
  method: 'put',
  path: '/api/v1/subscriptions/{scope}',
  tags,
  summary: "Set which notices go to which channels (admin), for the tenant (`default`) or a template (added to the default)",
  request: { params: ScopeParams, body: body(PutSubscriptionBody) },
  responses: {
    201: json('Created', SubscriptionResource),
    200: json('Replaced', SubscriptionResource),
    422: problemResponse(422, 'A channel id is not a channel of this tenant'),
    ...problemResponses(404),
  },
});
registry.registerPath({
  method: 'delete',
  path: '/api/v1/subscriptions/{scope}',
  tags,
  summary: 'Remove a subscription (admin)',
  request: { params: ScopeParams },
  responses: { 204: { description: 'Removed' }, ...problemResponses(404) },
});

registry.registerPath({
  method: 'get',
  path: '/api/v1/notifications',
  tags,
  summary: 'Deliveries of notices, newest first: event, channel, status, attempts, last error, the receiver’s answer',
  request: { query: ListNotificationsQuery },
  responses: { 200: json('A page of deliveries', DeliveryPage), ...problemResponses(400) },
});
