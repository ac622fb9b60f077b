-- The store of per-credential rate limits (rate-limiter-flexible's RateLimiterPostgres, `tableCreated: true`):
-- the table as that library expects it, shared by every API instance.
CREATE TABLE "rate_limits" (
    "key" VARCHAR(255) NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "rate_limits_pkey" PRIMARY KEY ("key")
);
