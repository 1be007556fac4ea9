-- Queue entries the worker gave up on: undecodable, rejected by the store, or delivered too many times.
-- `payload` is the entry's raw blob; `first_seen` is when the entry entered the stream (from its id).

CREATE TABLE IF NOT EXISTS dead_letters
(
    stream LowCardinality(String),
    entry_id String,
    first_seen DateTime64(3, 'UTC'),
    dead_lettered_at DateTime64(3, 'UTC'),
    deliveries UInt32,
    project_id LowCardinality(String),
    batch_id Nullable(UUID),
    error String,
    payload String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(dead_lettered_at)
ORDER BY (stream, entry_id)
TTL toDateTime(dead_lettered_at) + toIntervalDay(90);
