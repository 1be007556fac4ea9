-- Request rollups per minute and per hour, and SDK loss counters per minute.
--
-- Latency is kept as quantileTDigest states: on the measured distributions (packages/analytics/README.md) its
-- merged p50/p95/p99 were within 0.05 % of the exact values, better than quantileDD(0.01), quantileTiming and
-- quantileBFloat16. `uniq` is exact up to 65,536 distinct consumers per merged group, then approximate (~1 %).
-- The hourly table serves wide windows: merging 60x fewer states keeps 30-day queries fast.

CREATE TABLE IF NOT EXISTS requests_1m
(
    project_id LowCardinality(String),
    minute DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
    method LowCardinality(String),
    route LowCardinality(String),
    status UInt16,
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
ORDER BY (project_id, minute, service, environment, method, route, status)
TTL minute + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS requests_1m_mv TO requests_1m AS
SELECT
    project_id,
    toStartOfMinute(timestamp) AS minute,
    service,
    environment,
    method,
    ifNull(route, '') AS route,
    status,
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
GROUP BY project_id, minute, service, environment, method, route, status;

CREATE TABLE IF NOT EXISTS requests_1h
(
    project_id LowCardinality(String),
    hour DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
    method LowCardinality(String),
    route LowCardinality(String),
    status UInt16,
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
ORDER BY (project_id, hour, service, environment, method, route, status)
TTL hour + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS requests_1h_mv TO requests_1h AS
SELECT
    project_id,
    toStartOfHour(timestamp) AS hour,
    service,
    environment,
    method,
    ifNull(route, '') AS route,
    status,
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
GROUP BY project_id, hour, service, environment, method, route, status;

CREATE TABLE IF NOT EXISTS sdk_loss_1m
(
    project_id LowCardinality(String),
    minute DateTime('UTC'),
    service LowCardinality(String),
    environment LowCardinality(String),
    sdk_name LowCardinality(String),
    sdk_version LowCardinality(String),
    batches SimpleAggregateFunction(sum, UInt64),
    events SimpleAggregateFunction(sum, UInt64),
    queue_full SimpleAggregateFunction(sum, UInt64),
    sampled_out SimpleAggregateFunction(sum, UInt64),
    oversize SimpleAggregateFunction(sum, UInt64),
    send_failed SimpleAggregateFunction(sum, UInt64),
    shutdown SimpleAggregateFunction(sum, UInt64),
    retention_days SimpleAggregateFunction(max, UInt16)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (project_id, minute, service, environment, sdk_name, sdk_version)
TTL minute + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS sdk_loss_1m_mv TO sdk_loss_1m AS
SELECT
    project_id,
    toStartOfMinute(received_at) AS minute,
    service,
    environment,
    sdk_name,
    sdk_version,
    count() AS batches,
    sum(events) AS events,
    sum(dropped_queue_full) AS queue_full,
    sum(dropped_sampled_out) AS sampled_out,
    sum(dropped_oversize) AS oversize,
    sum(dropped_send_failed) AS send_failed,
    sum(dropped_shutdown) AS shutdown,
    max(retention_days) AS retention_days
FROM batches
GROUP BY project_id, minute, service, environment, sdk_name, sdk_version;
