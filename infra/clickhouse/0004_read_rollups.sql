-- Narrower rollups for the dashboard's reads, each filled by a materialized view on `events` (itself fed by the
-- landing table), so one insert's deduplication token covers them like every other table.
--
-- Merging t-digest states is what wide windows cost, so each read gets a table with only the dimensions it
-- groups by: project figures and time series (`project_1m`, `project_1h`: no method/route/status), endpoint
-- figures (`endpoints_1h`, `endpoints_1d`: no status), consumer figures (`consumers_1h`, `consumers_1d`). Readers
-- combine whole days, hours and minutes from these with the raw table for the window's ragged edges, so figures
-- are exact for any window (sentinel_analytics.reads.plan). Measurements: packages/analytics/README.md.

CREATE TABLE IF NOT EXISTS project_1m
(
    project_id LowCardinality(String),
    minute DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    errors_4xx SimpleAggregateFunction(sum, UInt64),
    errors_5xx SimpleAggregateFunction(sum, UInt64),
    duration_sum SimpleAggregateFunction(sum, Float64),
    duration_q AggregateFunction(quantileTDigest, Float64),
    request_size_sum SimpleAggregateFunction(sum, UInt64),
    response_size_sum SimpleAggregateFunction(sum, UInt64),
    consumers AggregateFunction(uniq, String),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (project_id, minute, service, environment)
TTL minute + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS project_1m_mv TO project_1m AS
SELECT
    project_id,
    toStartOfMinute(timestamp) AS minute,
    service,
    environment,
    count() AS requests,
    countIf(status >= 400 AND status < 500) AS errors_4xx,
    countIf(status >= 500) AS errors_5xx,
    sum(duration_ms) AS duration_sum,
    quantileTDigestState(duration_ms) AS duration_q,
    sum(request_size) AS request_size_sum,
    sum(response_size) AS response_size_sum,
    uniqStateIf(assumeNotNull(consumer_id), consumer_id IS NOT NULL) AS consumers,
    max(retention_days) AS retention_days
FROM events
GROUP BY project_id, minute, service, environment;

CREATE TABLE IF NOT EXISTS project_1h
(
    project_id LowCardinality(String),
    hour DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    errors_4xx SimpleAggregateFunction(sum, UInt64),
    errors_5xx SimpleAggregateFunction(sum, UInt64),
    duration_sum SimpleAggregateFunction(sum, Float64),
    duration_q AggregateFunction(quantileTDigest, Float64),
    request_size_sum SimpleAggregateFunction(sum, UInt64),
    response_size_sum SimpleAggregateFunction(sum, UInt64),
    consumers AggregateFunction(uniq, String),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, service, environment)
TTL hour + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS project_1h_mv TO project_1h AS
SELECT
    project_id,
    toStartOfHour(timestamp) AS hour,
    service,
    environment,
    count() AS requests,
    countIf(status >= 400 AND status < 500) AS errors_4xx,
    countIf(status >= 500) AS errors_5xx,
    sum(duration_ms) AS duration_sum,
    quantileTDigestState(duration_ms) AS duration_q,
    sum(request_size) AS request_size_sum,
    sum(response_size) AS response_size_sum,
    uniqStateIf(assumeNotNull(consumer_id), consumer_id IS NOT NULL) AS consumers,
    max(retention_days) AS retention_days
FROM events
GROUP BY project_id, hour, service, environment;

CREATE TABLE IF NOT EXISTS endpoints_1h
(
    project_id LowCardinality(String),
    hour DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
    method LowCardinality(String),
    route LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    errors_4xx SimpleAggregateFunction(sum, UInt64),
    errors_5xx SimpleAggregateFunction(sum, UInt64),
    duration_sum SimpleAggregateFunction(sum, Float64),
    duration_q AggregateFunction(quantileTDigest, Float64),
    request_size_sum SimpleAggregateFunction(sum, UInt64),
    response_size_sum SimpleAggregateFunction(sum, UInt64),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, service, environment, method, route)
TTL hour + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS endpoints_1h_mv TO endpoints_1h AS
SELECT
    project_id,
    toStartOfHour(timestamp) AS hour,
    service,
    environment,
    method,
    ifNull(route, '') AS route,
    count() AS requests,
    countIf(status >= 400 AND status < 500) AS errors_4xx,
    countIf(status >= 500) AS errors_5xx,
    sum(duration_ms) AS duration_sum,
    quantileTDigestState(duration_ms) AS duration_q,
    sum(request_size) AS request_size_sum,
    sum(response_size) AS response_size_sum,
    max(retention_days) AS retention_days
FROM events
GROUP BY project_id, hour, service, environment, method, route;

CREATE TABLE IF NOT EXISTS endpoints_1d
(
    project_id LowCardinality(String),
    day DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
    method LowCardinality(String),
    route LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    errors_4xx SimpleAggregateFunction(sum, UInt64),
    errors_5xx SimpleAggregateFunction(sum, UInt64),
    duration_sum SimpleAggregateFunction(sum, Float64),
    duration_q AggregateFunction(quantileTDigest, Float64),
    request_size_sum SimpleAggregateFunction(sum, UInt64),
    response_size_sum SimpleAggregateFunction(sum, UInt64),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (project_id, day, service, environment, method, route)
TTL day + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS endpoints_1d_mv TO endpoints_1d AS
SELECT
    project_id,
    toStartOfDay(timestamp) AS day,
    service,
    environment,
    method,
    ifNull(route, '') AS route,
    count() AS requests,
    countIf(status >= 400 AND status < 500) AS errors_4xx,
    countIf(status >= 500) AS errors_5xx,
    sum(duration_ms) AS duration_sum,
    quantileTDigestState(duration_ms) AS duration_q,
    sum(request_size) AS request_size_sum,
    sum(response_size) AS response_size_sum,
    max(retention_days) AS retention_days
FROM events
GROUP BY project_id, day, service, environment, method, route;

CREATE TABLE IF NOT EXISTS consumers_1h
(
    project_id LowCardinality(String),
    hour DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (project_id, hour, service, environment, consumer_id)
TTL hour + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS consumers_1h_mv TO consumers_1h AS
SELECT
    project_id,
    toStartOfHour(timestamp) AS hour,
    service,
    environment,
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
GROUP BY project_id, hour, service, environment, consumer_id;

CREATE TABLE IF NOT EXISTS consumers_1d
(
    project_id LowCardinality(String),
    day DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
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
ORDER BY (project_id, day, service, environment, consumer_id)
TTL day + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS consumers_1d_mv TO consumers_1d AS
SELECT
    project_id,
    toStartOfDay(timestamp) AS day,
    service,
    environment,
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
GROUP BY project_id, day, service, environment, consumer_id;
