import { proxyActivities } from '@temporalio/workflow';
import type { InspectionActivities, InspectionScope, InspectionsResult, TenantInspectionResult } from './contract';

const { listInspectionTenants, inspectTenant } = proxyActivities<InspectionActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '2s', maximumAttempts: 3 },
});

/** An alert that cannot be sent now is tried again on the next inspection (it stays unalerted). */
const { alertFinding } = proxyActivities<InspectionActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 4 },
});

/**
 * Runs the inspection rules for every tenant (the schedule) or one (`POST /api/v1/inspections/run`),
 * then alerts each finding whose current state has not been alerted yet, once.
 */
export async function runInspections(scope: InspectionScope = {}): Promise<InspectionsResult> {
  const tenantIds = await listInspectionTenants(scope);
  const tenants: TenantInspectionResult[] = [];
  for (const tenantId of tenantIds) tenants.push(await inspectTenant(tenantId));
  let alerted = 0;
  let alertFailures = 0;
  for (const findingId of tenants.flatMap((tenant) => tenant.toAlert)) {
    try {
      if (await alertFinding(findingId)) alerted++;
    } catch {
      alertFailures++;
    }
  }
  return { tenants, alerted, alertFailures };
}
