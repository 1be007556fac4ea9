-- Raw events and batches, written through one landing table.
--
-- The worker inserts one row per queued batch into `ingest_batches` (engine Null: it stores nothing). Materialized
-- views fan each insert out to `batches` (one row per batch) and `events` (one row per event, ARRAY JOIN), and
-- from there to the rollups. One INSERT therefore carries one deduplication token for every table: a retried or
-- replayed insert is dropped everywhere or nowhere (see packages/analytics/README.md).
--
-- The positional layout of `ingest_batches` is the worker's wire format (JSONCompactEachRow): change it only
-- together with sentinel_analytics.encode, which checks it at start-up.

CREATE TABLE IF NOT EXISTS ingest_batches
(
    project_id String,
    tenant_id String,
    batch_id UUID,
    received_at Int64,
    sdk Tuple(name String, version String, runtime String),
    service String,
    environment String,
    sample_rate Float64,
    dropped Tuple(queue_full UInt64, sampled_out UInt64, oversize UInt64, send_failed UInt64, shutdown UInt64),
    overhead Nullable(Tuple(samples UInt64, mean_us Float64, p50_us Float64, p99_us Float64)),
    retention_days UInt16,
    -- One unnamed tuple per event, in the field order of sentinel_types.Event.
    events Array(Tuple(
        UUID,                 -- 1 event_id
        Int64,                -- 2 timestamp (UTC ms)
        String,               -- 3 method
        String,               -- 4 path
        UInt16,               -- 5 status
        Float64,              -- 6 duration_ms
        Nullable(String),     -- 7 route
        Nullable(Float64),    -- 8 ttfb_ms
        UInt64,               -- 9 request_size
        UInt64,               -- 10 response_size
        Nullable(String),     -- 11 client_ip
        Nullable(String),     -- 12 user_agent
        Tuple(id Nullable(String), name Nullable(String), group Nullable(String)),  -- 13 consumer
        Map(String, String),  -- 14 attributes
        Nullable(String),     -- 15 request_headers (the JSON object, as text)
        Nullable(String),     -- 16 response_headers (the JSON object, as text)
        Nullable(String),     -- 17 request_body
        Nullable(String),     -- 18 response_body
        Nullable(String),     -- 19 error
        Bool,                 -- 20 aborted
        Nullable(String)      -- 21 trace_id
    ))
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS events
(
    project_id LowCardinality(String),
    timestamp DateTime64(3, 'UTC'),
    event_id UUID,
    tenant_id LowCardinality(String),
    batch_id UUID,
    received_at DateTime64(3, 'UTC'),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3),
    service LowCardinality(String),
    environment LowCardinality(String),
    method LowCardinality(String),
    path String,
    route LowCardinality(Nullable(String)),
    status UInt16,
    duration_ms Float64,
    ttfb_ms Nullable(Float64),
    request_size UInt64,
    response_size UInt64,
    client_ip Nullable(String),
    user_agent LowCardinality(Nullable(String)),
    consumer_id Nullable(String),
    consumer_name Nullable(String),
    consumer_group LowCardinality(Nullable(String)),
    attributes Map(LowCardinality(String), String),
    request_headers Nullable(String),
    response_headers Nullable(String),
    request_body Nullable(String),
    response_body Nullable(String),
    error LowCardinality(Nullable(String)),
    aborted Bool,
    trace_id Nullable(String),
    retention_days UInt16,
    INDEX event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (project_id, timestamp, event_id)
TTL toDateTime(timestamp) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_mv TO events AS
SELECT
    project_id,
    fromUnixTimestamp64Milli(e.2, 'UTC') AS timestamp,
    e.1 AS event_id,
    tenant_id,
    batch_id,
    fromUnixTimestamp64Milli(received_at, 'UTC') AS received_at,
    service,
    environment,
    e.3 AS method,
    e.4 AS path,
    e.7 AS route,
    e.5 AS status,
    e.6 AS duration_ms,
    e.8 AS ttfb_ms,
    e.9 AS request_size,
    e.10 AS response_size,
    e.11 AS client_ip,
    e.12 AS user_agent,
    e.13.id AS consumer_id,
    e.13.name AS consumer_name,
    e.13.group AS consumer_group,
    e.14 AS attributes,
    e.15 AS request_headers,
    e.16 AS response_headers,
    e.17 AS request_body,
    e.18 AS response_body,
    e.19 AS error,
    e.20 AS aborted,
    e.21 AS trace_id,
    retention_days
FROM ingest_batches
ARRAY JOIN events AS e;

-- One row per accepted batch: the SDK's identity, sampling, loss counters and measured overhead.
CREATE TABLE IF NOT EXISTS batches
(
    project_id LowCardinality(String),
    received_at DateTime64(3, 'UTC'),
    batch_id UUID,
    tenant_id LowCardinality(String),
    service LowCardinality(String),
    environment LowCardinality(String),
    sdk_name LowCardinality(String),
    sdk_version LowCardinality(String),
    sdk_runtime LowCardinality(String),
    sample_rate Float64,
    events UInt32,
    dropped_queue_full UInt64,
    dropped_sampled_out UInt64,
    dropped_oversize UInt64,
    dropped_send_failed UInt64,
    dropped_shutdown UInt64,
    overhead_samples Nullable(UInt64),
    overhead_mean_us Nullable(Float64),
    overhead_p50_us Nullable(Float64),
    overhead_p99_us Nullable(Float64),
    retention_days UInt16
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (project_id, received_at, batch_id)
TTL toDateTime(received_at) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS batches_mv TO batches AS
SELECT
    project_id,
    fromUnixTimestamp64Milli(received_at, 'UTC') AS received_at,
    batch_id,
    tenant_id,
    service,
    environment,
    sdk.name AS sdk_name,
    sdk.version AS sdk_version,
    sdk.runtime AS sdk_runtime,
    sample_rate,
    length(events) AS events,
    dropped.queue_full AS dropped_queue_full,
    dropped.sampled_out AS dropped_sampled_out,
    dropped.oversize AS dropped_oversize,
    dropped.send_failed AS dropped_send_failed,
    dropped.shutdown AS dropped_shutdown,
    overhead.samples AS overhead_samples,
    overhead.mean_us AS overhead_mean_us,
    overhead.p50_us AS overhead_p50_us,
    overhead.p99_us AS overhead_p99_us,
    retention_days
FROM ingest_batches;
