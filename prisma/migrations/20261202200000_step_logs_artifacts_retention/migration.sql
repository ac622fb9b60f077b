-- Step logs, artifacts and their retention (README: "Step logs", "Artifacts", "Retention").

CREATE TABLE "step_logs" (
    "id" BIGSERIAL NOT NULL,
    "tenantId" UUID NOT NULL,
    "runId" TEXT NOT NULL,
    "stepId" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "activityId" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "level" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    CONSTRAINT "step_logs_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "step_logs_tenantId_runId_id_idx" ON "step_logs"("tenantId", "runId", "id");
CREATE INDEX "step_logs_tenantId_at_idx" ON "step_logs"("tenantId", "at");

-- Live tails listen on `step_logs` for the runs whose logs grew. PostgreSQL folds identical
-- notifications of one transaction into one, so a batch costs one notification per run.
-- The body is an escape string with its semicolons written \x3B, since Prisma's migration runner
-- splits scripts at every semicolon (see 20261130000000_audit_log).
CREATE FUNCTION "announce_step_logs"() RETURNS trigger
LANGUAGE plpgsql AS E'
BEGIN
  PERFORM pg_notify(\'step_logs\', NEW."runId")\x3B
  RETURN NULL\x3B
END
';
CREATE TRIGGER "step_logs_announce" AFTER INSERT ON "step_logs"
  FOR EACH ROW EXECUTE FUNCTION "announce_step_logs"();

CREATE TABLE "artifacts" (
    "id" UUID NOT NULL,
    "tenantId" UUID NOT NULL,
    "runId" TEXT NOT NULL,
    "stepId" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "mediaType" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "artifacts_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "artifacts_tenantId_runId_idx" ON "artifacts"("tenantId", "runId");
CREATE INDEX "artifacts_tenantId_createdAt_idx" ON "artifacts"("tenantId", "createdAt");
CREATE INDEX "artifacts_tenantId_sha256_idx" ON "artifacts"("tenantId", "sha256");

CREATE TABLE "artifact_contents" (
    "tenantId" UUID NOT NULL,
    "sha256" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "storage" TEXT NOT NULL,
    "content" BYTEA,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastWrittenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "artifact_contents_pkey" PRIMARY KEY ("tenantId", "sha256")
);

CREATE TABLE "retention_policies" (
    "tenantId" UUID NOT NULL,
    "logsDays" INTEGER NOT NULL,
    "artifactsDays" INTEGER NOT NULL,
    "updatedBy" TEXT NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "retention_policies_pkey" PRIMARY KEY ("tenantId")
);
