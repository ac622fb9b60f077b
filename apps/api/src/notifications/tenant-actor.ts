import type { AuditActor } from '../audit/trail';

/** Who changes a tenant's notification settings: an actor of that tenant (routes behind `authenticate` always have one). */
export type TenantActor = AuditActor & { tenantId: string };
