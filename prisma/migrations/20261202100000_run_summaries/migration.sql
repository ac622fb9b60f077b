-- Run summaries for template stats: one row per finished run and one per step of it, written once
-- by the collector after the run closed (never by the workflow), and the collector's watermark.
CREATE TABLE "RunSummary" (
    "executionRunId" TEXT NOT NULL,
    "runId" TEXT NOT NULL,
    "tenantId" UUID NOT NULL,
    "templateId" UUID NOT NULL,
    "templateVersion" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "startedAt" TIMESTAMPTZ(3) NOT NULL,
    "closedAt" TIMESTAMPTZ(3) NOT NULL,
    "durationMs" DOUBLE PRECISION NOT NULL,
    "stepsKnown" BOOLEAN NOT NULL,
    "collectedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "RunSummary_pkey" PRIMARY KEY ("executionRunId")
);
CREATE INDEX "RunSummary_tenantId_templateId_startedAt_idx" ON "RunSummary"("tenantId", "templateId", "startedAt");

CREATE TABLE "RunStepSummary" (
    "executionRunId" TEXT NOT NULL,
    "stepId" TEXT NOT NULL,
    "tenantId" UUID NOT NULL,
    "templateId" UUID NOT NULL,
    "templateVersion" INTEGER NOT NULL,
    "runStartedAt" TIMESTAMPTZ(3) NOT NULL,
    "type" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "durationMs" DOUBLE PRECISION,
    "approvalWaitMs" DOUBLE PRECISION,
    CONSTRAINT "RunStepSummary_pkey" PRIMARY KEY ("executionRunId", "stepId"),
    CONSTRAINT "RunStepSummary_executionRunId_fkey" FOREIGN KEY ("executionRunId") REFERENCES "RunSummary"("executionRunId") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "RunStepSummary_tenantId_templateId_runStartedAt_idx" ON "RunStepSummary"("tenantId", "templateId", "runStartedAt");

CREATE TABLE "RunSummaryWatermark" (
    "id" TEXT NOT NULL,
    "closedFrom" TIMESTAMPTZ(3) NOT NULL,
    "leasedBy" TEXT,
    "leaseUntil" TIMESTAMPTZ(3),
    CONSTRAINT "RunSummaryWatermark_pkey" PRIMARY KEY ("id")
);

-- The summaries rolled up per day of the runs' start, version and series ("" for the runs, else a
-- step): exact counts and duration histograms, so that stats over whole days read a few rows.
CREATE TABLE "RunRollup" (
    "tenantId" UUID NOT NULL,
    "templateId" UUID NOT NULL,
    "day" DATE NOT NULL,
    "templateVersion" INTEGER NOT NULL,
    "stepId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "runs" INTEGER NOT NULL,
    "succeeded" INTEGER NOT NULL,
    "failed" INTEGER NOT NULL,
    "skipped" INTEGER NOT NULL,
    "cancelled" INTEGER NOT NULL,
    "timedOut" INTEGER NOT NULL,
    "retries" INTEGER NOT NULL,
    "runsWithRetries" INTEGER NOT NULL,
    "maxAttempts" INTEGER NOT NULL,
    "durations" JSONB NOT NULL,
    "approvalWaits" JSONB NOT NULL,
    CONSTRAINT "RunRollup_pkey" PRIMARY KEY ("tenantId", "templateId", "day", "templateVersion", "stepId")
);

-- Adds two histograms (JSON objects, bucket → count): what a rollup row becomes when more runs of its day are summarised.
CREATE FUNCTION "addHistograms"(a JSONB, b JSONB) RETURNS JSONB LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
    FROM (
        SELECT key, sum(value::bigint) AS total
        FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) AS entries
        GROUP BY key
    ) AS added
$$;
