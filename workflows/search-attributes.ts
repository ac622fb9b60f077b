import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes that make runs findable in the Temporal Web UI and through visibility queries. */
export const TemplateIdKey = defineSearchAttributeKey('TemplateId', SearchAttributeType.KEYWORD);
export const TemplateVersionKey = defineSearchAttributeKey('TemplateVersion', SearchAttributeType.INT);
export const RunStatusKey = defineSearchAttributeKey('RunStatus', SearchAttributeType.KEYWORD);
export const StartedByKey = defineSearchAttributeKey('StartedBy', SearchAttributeType.KEYWORD);
/** The tenant a run belongs to: every list adds it to its query, every read of one run compares it. */
export const TenantIdKey = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);

export const searchAttributeKeys = [TemplateIdKey, TemplateVersionKey, RunStatusKey, StartedByKey, TenantIdKey] as const;
