-- Consumer rollups for reads without a service or environment filter: per day and per week, one row per consumer
-- (the tables of 0004 keep one per service and environment too). Sorting every consumer of a 30-day window by a
-- percentile merges one latency sketch per row read, so these cut that work by the number of sources and by
-- seven for whole weeks (sentinel_analytics.reads). Weeks are aligned on the Unix epoch (they start on
-- Thursdays, 00:00 UTC), as the readers' window plan aligns every grain.

CREATE TABLE IF NOT EXISTS consumers_all_1d
(
    project_id LowCardinality(String),
    day DateTime('UTC'),
    consumer_id String,
    consumer_name SimpleAggregateFunction(anyLast, Nullable(String)),
    consumer_group SimpleAggregateFunction(anyLast, Nullable(String)),
    requests SimpleAggregateFunction(sum, UInt64),
    errors_4xx SimpleAggregateFunction(sum, UInt64),
    errors_5xx SimpleAggregateFunction(sum, UInt64),
    duration_q AggregateFunction(quantileTDigest, Float64),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, day, consumer_id)
TTL day + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS consumers_all_1w
(
    project_id LowCardinality(String),
    week DateTime('UTC'),
    consumer_id String,
    consumer_name SimpleAggregateFunction(anyLast, Nullable(String)),
    consumer_group SimpleAggregateFunction(anyLast, Nullable(String)),
    requests SimpleAggregateFunction(sum, UInt64),
    errors_4xx SimpleAggregateFunction(sum, UInt64),
    errors_5xx SimpleAggregateFunction(sum, UInt64),
    duration_q AggregateFunction(quantileTDigest, Float64),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(week)
ORDER BY (project_id, week, consumer_id)
TTL week + toIntervalDay(retention_days + 7)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS consumers_all_1d_mv TO consumers_all_1d AS
SELECT
    project_id,
    toStartOfDay(timestamp) AS day,
    assumeNotNull(consumer_id) AS consumer_id,
    anyLast(consumer_name) AS consumer_name,
    anyLast(consumer_group) AS consumer_group,
    count() AS requests,
    countIf(status >= 400 AND status < 500) AS errors_4xx,
    countIf(status >= 500) AS errors_5xx,
    quantileTDigestState(duration_ms) AS duration_q,
    max(retention_days) AS retention_days
FROM events
WHERE consumer_id IS NOT NULL
GROUP BY project_id, day, consumer_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS consumers_all_1w_mv TO consumers_all_1w AS
SELECT
    project_id,
    toDateTime(intDiv(toUnixTimestamp(timestamp), 604800) * 604800, 'UTC') AS week,
    assumeNotNull(consumer_id) AS consumer_id,
    anyLast(consumer_name) AS consumer_name,
    anyLast(consumer_group) AS consumer_group,
    count() AS requests,
    countIf(status >= 400 AND status < 500) AS errors_4xx,
    countIf(status >= 500) AS errors_5xx,
    quantileTDigestState(duration_ms) AS duration_q,
    max(retention_days) AS retention_days
FROM events
WHERE consumer_id IS NOT NULL
GROUP BY project_id, week, consumer_id;

-- Rows stored before these views existed are not copied (a copy racing live inserts, or run twice by two workers
-- migrating at once, would count some batches twice). Instead `rollup_since` records from when the tables are
-- complete: the start of the third day from now (events may be dated up to a day ahead by the ingest's clock-skew
-- allowance, and the ingest's clock may run ahead of this server's), or the epoch when no event was stored yet. Readers take the tables' rows from that time on, and the
-- per-source tables before it. Running this twice only records a later time, and readers use the latest.
CREATE TABLE IF NOT EXISTS rollup_since
(
    rollup LowCardinality(String),
    since DateTime('UTC')
)
ENGINE = ReplacingMergeTree(since)
ORDER BY rollup;

INSERT INTO rollup_since
SELECT
    'consumers_all',
    if((SELECT count() FROM events) = 0, toDateTime(0, 'UTC'), toStartOfDay(now('UTC') + toIntervalDay(3)));
