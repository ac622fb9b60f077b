-- Refused writes whose credential names no tenant (none, or one that is not ours) are entries of
-- the system scope: tenantId NULL, read by system administrators (GET /api/v1/audit/system). The
-- existing (tenantId, at DESC, id DESC) index serves them too: a btree finds IS NULL.
ALTER TABLE "AuditEvent" ALTER COLUMN "tenantId" DROP NOT NULL;
