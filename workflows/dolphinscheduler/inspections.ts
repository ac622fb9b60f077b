import { patched, proxyActivities } from '@temporalio/workflow';
import type { InspectionActivities, InspectionScope, InspectionsResult, TenantInspectionResult } from './contract';

const { listInspectionTenants, inspectTenant } = proxyActivities<InspectionActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '2s', maximumAttempts: 3 },
});

/**
 * An alert that cannot be sent now is tried again on the next inspection (it stays unalerted). Only
 * a channel that may take it later (down, busy) fails an attempt; one that refused it for good is
 * recorded as failed and does not hold the alert up.
 */
const { alertFinding } = proxyActivities<InspectionActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 4 },
});

/** Patch id: inspections recorded before alerts were sent a few at a time sent them one after the other. */
const CONCURRENT_ALERTS = 'inspection-alerts-concurrent';

/** Findings alerted at once: a slow or failing channel holds up a few alerts, not every one behind it. */
const ALERT_CONCURRENCY = 4;

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
  const findingIds = tenants.flatMap((tenant) => tenant.toAlert);
  let next = 0;
  // Lanes rather than a promise per finding: each lane takes the next finding when its last alert ends.
  const lane = async (): Promise<void> => {
    while (next < findingIds.length) {
      try {
        if (await alertFinding(findingIds[next++]!)) alerted++;
      } catch {
        alertFailures++;
      }
    }
  };
  const lanes = patched(CONCURRENT_ALERTS) ? Math.min(ALERT_CONCURRENCY, findingIds.length) : 1;
  await Promise.all(Array.from({ length: lanes }, lane));
  return { tenants, alerted, alertFailures };
}
