-- The audit log: who (subject and credential), from where (request id, remote address), and the
-- outcome (succeeded / refused) of every change and decision. Existing rows were all successful
-- changes whose credential, request and address were not recorded: they keep NULL there.
ALTER TABLE "AuditEvent" ADD COLUMN "credential" TEXT;
ALTER TABLE "AuditEvent" ADD COLUMN "requestId" TEXT;
ALTER TABLE "AuditEvent" ADD COLUMN "remoteAddress" TEXT;
ALTER TABLE "AuditEvent" ADD COLUMN "outcome" TEXT NOT NULL DEFAULT 'succeeded';
ALTER TABLE "AuditEvent" ADD CONSTRAINT "AuditEvent_outcome_check" CHECK ("outcome" IN ('succeeded', 'refused'));

-- Paging newest first within a tenant, by (at, id).
DROP INDEX IF EXISTS "AuditEvent_tenantId_at_idx";
CREATE INDEX "AuditEvent_tenantId_at_id_idx" ON "AuditEvent"("tenantId", "at" DESC, "id" DESC);
CREATE INDEX "AuditEvent_tenantId_actor_at_idx" ON "AuditEvent"("tenantId", "actor", "at");

-- Append-only: the application (which connects as the table's owner in development and tests, so
-- REVOKE would not bind it) may INSERT and SELECT, never UPDATE, DELETE or TRUNCATE. The one
-- exception is a retention job connected as the role `flowpilot_audit_retention` (created by the
-- operator, not here), which may DELETE old entries. A superuser can still drop the trigger: in
-- production the API should connect as a role that neither owns the table nor is a superuser.
-- The body is an escape string with every semicolon written \x3B: Prisma's driver-adapter
-- migration runner splits a script at every semicolon, quoted or not. It reads:
--   BEGIN
--     IF TG_OP = 'DELETE' AND current_user = 'flowpilot_audit_retention' THEN RETURN OLD END IF (with the semicolons)
--     RAISE EXCEPTION 'the audit log is append-only: % on "AuditEvent" is refused', TG_OP
--       USING ERRCODE = 'insufficient_privilege'
--   END
CREATE FUNCTION "audit_event_append_only"() RETURNS trigger
LANGUAGE plpgsql AS E'
BEGIN
  IF TG_OP = \'DELETE\' AND current_user = \'flowpilot_audit_retention\' THEN
    RETURN OLD\x3B
  END IF\x3B
  RAISE EXCEPTION \'the audit log is append-only: % on "AuditEvent" is refused\', TG_OP
    USING ERRCODE = \'insufficient_privilege\'\x3B
END
';

CREATE TRIGGER "AuditEvent_append_only"
  BEFORE UPDATE OR DELETE ON "AuditEvent"
  FOR EACH ROW EXECUTE FUNCTION "audit_event_append_only"();

CREATE TRIGGER "AuditEvent_no_truncate"
  BEFORE TRUNCATE ON "AuditEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_event_append_only"();
