"""The read queries, one fixed-shape SQL text each, shared by the ClickHouse reader and the Tinybird pipes.

Every user value is a server-side parameter (``{name:Type}``); a query's window is a set of ranges per grain
(see ``plan``), each range a pair of ``Int64`` ms parameters. The Tinybird pipes in ``infra/tinybird/pipes`` are
generated from these texts (``python -m sentinel_analytics.reads.pipes``), so both backends run the same SQL.
"""

# ruff: noqa: S608 - the texts are assembled from module constants only; user values are bound parameters.
from __future__ import annotations

from sentinel_analytics.reads.plan import DAY, HOUR, MINUTE

FILTER = (
    "project_id = {project_id:String}"
    " AND ({environment:String} = '' OR environment = {environment:String})"
    " AND ({service:String} = '' OR service = {service:String})"
)

#: Parameter name prefix of each grain's ranges; ``r`` is the raw table. Consumer reads also have ``w`` (weeks)
#: and ``a`` (days of the consumer tables without service and environment).
GRAIN_NAMES = {DAY: "d", HOUR: "h", MINUTE: "m"}


def _ranges(column: str, name: str, *, raw: bool) -> str:
    def bound(param: str) -> str:
        if raw:
            return f"fromUnixTimestamp64Milli({{{param}:Int64}}, 'UTC')"
        return f"toDateTime(intDiv({{{param}:Int64}}, 1000), 'UTC')"

    parts = [f"({column} >= {bound(f'{name}{i}')} AND {column} < {bound(f'{name}{i + 1}')})" for i in (0, 2)]
    return "(" + " OR ".join(parts) + ")"


_ROLLUP_FIGURES = (
    "sum(requests) AS requests, sum(errors_4xx) AS errors_4xx, sum(errors_5xx) AS errors_5xx, "
    "sum(duration_sum) AS duration_sum, quantileTDigestMergeState(duration_q) AS duration_q, "
    "sum(request_size_sum) AS request_size_sum, sum(response_size_sum) AS response_size_sum"
)
_RAW_FIGURES = (
    "count() AS requests, countIf(status >= 400 AND status < 500) AS errors_4xx, "
    "countIf(status >= 500) AS errors_5xx, sum(duration_ms) AS duration_sum, "
    "quantileTDigestState(duration_ms) AS duration_q, sum(request_size) AS request_size_sum, "
    "sum(response_size) AS response_size_sum"
)
_OUTER_FIGURES = (
    "sum(requests) AS requests, sum(errors_4xx) AS errors_4xx, sum(errors_5xx) AS errors_5xx, "
    "sum(duration_sum) AS duration_sum, quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_q) AS latency, "
    "sum(request_size_sum) AS request_size_sum, sum(response_size_sum) AS response_size_sum"
)


def _union(
    levels: list[tuple[str, str, str]],
    *,
    keys: str = "",
    raw_keys: str = "",
    extra: str = "",
    rollup: str = _ROLLUP_FIGURES,
    raw: str = _RAW_FIGURES,
    where: str = "",
) -> str:
    """UNION ALL of one branch per rollup level ``(table, time column, parameter prefix)`` and the raw table.

    ``keys`` are the rollup branches' group keys (may use the time column through ``{time}``), ``raw_keys`` the
    raw branch's; ``extra`` is a pair ``rollup;raw`` of more aggregate columns; ``rollup`` and ``raw`` the
    aggregates of each kind of branch; ``where`` one more condition on every branch.
    """
    extra_rollup, _, extra_raw = extra.partition(";")
    branches = []
    for table, time_column, name in levels:
        select_keys = keys.replace("{time}", time_column)
        branches.append(
            f"SELECT {select_keys}{', ' if keys else ''}{rollup}{extra_rollup} FROM {table}"
            f" WHERE {FILTER} AND {_ranges(time_column, name, raw=False)}{where}"
            + (f" GROUP BY {select_keys}" if keys else "")
        )
    raw_select = raw_keys.replace("{time}", "timestamp")
    branches.append(
        f"SELECT {raw_select}{', ' if raw_keys else ''}{raw}{extra_raw} FROM events"
        f" WHERE {FILTER} AND {_ranges('timestamp', 'r', raw=True)}{where}"
        + (f" GROUP BY {raw_select}" if raw_keys else "")
    )
    return "\nUNION ALL\n".join(branches)


_PROJECT_LEVELS = [("project_1h", "hour", "h"), ("project_1m", "minute", "m")]
# No minute level for endpoints: per method and route, minute rows hold about one event each (requests_1m barely
# compresses), so the raw table answers the sub-hour edges as cheaply.
_ENDPOINT_LEVELS = [("endpoints_1d", "day", "d"), ("endpoints_1h", "hour", "h")]
_CONSUMERS_ROLLUP = ", uniqMergeState(consumers) AS consumers"
_CONSUMERS_RAW = ", uniqStateIf(assumeNotNull(consumer_id), consumer_id IS NOT NULL) AS consumers"

OVERVIEW = f"""
SELECT {_OUTER_FIGURES}, uniqMerge(consumers) AS consumers
FROM (
{_union(_PROJECT_LEVELS, extra=_CONSUMERS_ROLLUP + ";" + _CONSUMERS_RAW)}
)
"""

LOSS = """
SELECT sum(events) AS events, sum(queue_full) AS queue_full, sum(sampled_out) AS sampled_out,
       sum(oversize) AS oversize, sum(send_failed) AS send_failed, sum(shutdown) AS shutdown
FROM sdk_loss_1m
WHERE {filter}
  AND minute >= toStartOfMinute(fromUnixTimestamp64Milli({start:Int64}, 'UTC'))
  AND minute < fromUnixTimestamp64Milli({end:Int64}, 'UTC')
""".replace("{filter}", FILTER)

_BUCKET = "toUInt32(intDiv(toUnixTimestamp({time}), {step_s:UInt32}) * {step_s:UInt32}) AS bucket"

TIMESERIES = f"""
SELECT bucket, sum(requests) AS requests, sum(errors_4xx) + sum(errors_5xx) AS errors,
       quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_q) AS latency
FROM (
{_union(_PROJECT_LEVELS, keys=_BUCKET, raw_keys=_BUCKET)}
)
GROUP BY bucket
ORDER BY bucket
"""

_ENDPOINT_KEYS = "method, route"
_ENDPOINT_RAW_KEYS = "method, ifNull(route, '') AS route"

#: Sort keys: a Float64 whose ascending order is the requested order (negated for ``desc``); percentiles are
#: rounded to the microsecond so that re-merging sketches for the next page gives the same key.
_ENDPOINT_KEY = """multiIf(
    {sort:String} = 'error_rate', if(requests = 0, 0, (errors_4xx + errors_5xx) / requests),
    {sort:String} = 'p50_ms', toFloat64(round(latency[1], 3)),
    {sort:String} = 'p95_ms', toFloat64(round(latency[2], 3)),
    {sort:String} = 'p99_ms', toFloat64(round(latency[3], 3)),
    {sort:String} = 'avg_request_size', if(requests = 0, 0, request_size_sum / requests),
    {sort:String} = 'avg_response_size', if(requests = 0, 0, response_size_sum / requests),
    toFloat64(requests)
) * if({order:String} = 'desc', -1, 1)"""

ENDPOINTS = f"""
SELECT method, route, requests, errors_4xx, errors_5xx, duration_sum, latency, request_size_sum, response_size_sum,
       {_ENDPOINT_KEY} AS sort_key
FROM (
    SELECT method, route, {_OUTER_FIGURES}
    FROM (
{_union(_ENDPOINT_LEVELS, keys=_ENDPOINT_KEYS, raw_keys=_ENDPOINT_RAW_KEYS)}
    )
    GROUP BY method, route
)
WHERE {{has_after:UInt8}} = 0
   OR (sort_key, method, route) > ({{after_key:Float64}}, {{after_method:String}}, {{after_route:String}})
ORDER BY sort_key, method, route
LIMIT {{limit:UInt32}}
"""

_SUMS_ROLLUP = (
    "sum(requests) AS requests, sum(errors_4xx) AS errors_4xx, sum(errors_5xx) AS errors_5xx, "
    "sum(duration_sum) AS duration_sum, sum(request_size_sum) AS request_size_sum, "
    "sum(response_size_sum) AS response_size_sum"
)
_SUMS_RAW = (
    "count() AS requests, countIf(status >= 400 AND status < 500) AS errors_4xx, "
    "countIf(status >= 500) AS errors_5xx, sum(duration_ms) AS duration_sum, sum(request_size) AS request_size_sum, "
    "sum(response_size) AS response_size_sum"
)
_STATES_ROLLUP = "quantileTDigestMergeState(duration_q) AS duration_q"
_STATES_RAW = "quantileTDigestState(duration_ms) AS duration_q"

_ENDPOINT_COUNT_KEY = """multiIf(
    {sort:String} = 'error_rate', if(requests = 0, 0, (errors_4xx + errors_5xx) / requests),
    {sort:String} = 'avg_request_size', if(requests = 0, 0, request_size_sum / requests),
    {sort:String} = 'avg_response_size', if(requests = 0, 0, response_size_sum / requests),
    toFloat64(requests)
) * if({order:String} = 'desc', -1, 1)"""

#: Endpoints sorted by a count, in two queries: the page from cheap sums (this), then latency sketches merged for
#: the page's endpoints only (``ENDPOINT_SKETCHES``): merging sketches is what a wide window costs. Two queries
#: rather than one with the page as a subquery: ClickHouse evaluates a ``WITH`` subquery again at every use.
ENDPOINTS_PAGE = f"""
SELECT method, route, {_SUMS_ROLLUP}, {_ENDPOINT_COUNT_KEY} AS sort_key
FROM (
{_union(_ENDPOINT_LEVELS, keys=_ENDPOINT_KEYS, raw_keys=_ENDPOINT_RAW_KEYS, rollup=_SUMS_ROLLUP, raw=_SUMS_RAW)}
)
GROUP BY method, route
HAVING {{has_after:UInt8}} = 0
    OR (sort_key, method, route) > ({{after_key:Float64}}, {{after_method:String}}, {{after_route:String}})
ORDER BY sort_key, method, route
LIMIT {{limit:UInt32}}
"""

#: ``keys``: a JSON array of ``[method, route]`` pairs (a page of ``ENDPOINTS_PAGE``).
_PAGE_ENDPOINTS = (
    " AND (method, route) IN (SELECT tupleElement(key, 1), tupleElement(key, 2)"
    " FROM (SELECT arrayJoin(JSONExtract({keys:String}, 'Array(Tuple(String, String))')) AS key))"
)

ENDPOINT_SKETCHES = f"""
SELECT method, route, quantilesTDigestMerge(0.5, 0.95, 0.99)(duration_q) AS latency
FROM (
{
    _union(
        _ENDPOINT_LEVELS,
        keys=_ENDPOINT_KEYS,
        raw_keys=_ENDPOINT_RAW_KEYS,
        rollup=_STATES_ROLLUP,
        raw=_STATES_RAW,
        where=_PAGE_ENDPOINTS,
    )
}
)
GROUP BY method, route
"""

STATUS_CODES = (
    """
SELECT status, sum(requests) AS requests
FROM (
    SELECT status, sum(requests) AS requests FROM requests_1h WHERE {filter} AND {h}
    GROUP BY status
    UNION ALL
    SELECT status, sum(requests) AS requests FROM requests_1m WHERE {filter} AND {m}
    GROUP BY status
    UNION ALL
    SELECT status, count() AS requests FROM events WHERE {filter} AND {r}
    GROUP BY status
)
GROUP BY status
ORDER BY status
""".format(
        filter=FILTER.replace("{", "{{").replace("}", "}}"),
        h=_ranges("hour", "h", raw=False).replace("{", "{{").replace("}", "}}"),
        m=_ranges("minute", "m", raw=False).replace("{", "{{").replace("}", "}}"),
        r=_ranges("timestamp", "r", raw=True).replace("{", "{{").replace("}", "}}"),
    )
    .replace("{{", "{")
    .replace("}}", "}")
)

# The consumer rollups' views alias assumeNotNull(consumer_id) as consumer_id, so their NULL filter sees the alias:
# requests without a consumer land under ''. Every branch therefore keeps consumer_id != '' (in the raw branch too,
# where the same alias turns NULL into ''): an empty id counts as no consumer.
_CONSUMER_BRANCH = """
    SELECT consumer_id, anyLast(consumer_name) AS consumer_name, anyLast(consumer_group) AS consumer_group,
           sum(requests) AS requests, sum(errors_4xx) AS errors_4xx, sum(errors_5xx) AS errors_5xx,
           quantileTDigestMergeState(duration_q) AS duration_q
    FROM {table} WHERE {filter} AND consumer_id != '' AND {ranges}
    GROUP BY consumer_id"""

_CONSUMER_RAW = """
    SELECT assumeNotNull(consumer_id) AS consumer_id, anyLast(consumer_name) AS consumer_name,
           anyLast(consumer_group) AS consumer_group, count() AS requests,
           countIf(status >= 400 AND status < 500) AS errors_4xx, countIf(status >= 500) AS errors_5xx,
           quantileTDigestState(duration_ms) AS duration_q
    FROM events WHERE {filter} AND consumer_id != '' AND {ranges}
    GROUP BY consumer_id"""

_CONSUMER_SUMS = """
    SELECT consumer_id, anyLast(consumer_name) AS consumer_name, anyLast(consumer_group) AS consumer_group,
           sum(requests) AS requests, sum(errors_4xx) AS errors_4xx, sum(errors_5xx) AS errors_5xx
    FROM {table} WHERE {filter} AND consumer_id != '' AND {ranges}
    GROUP BY consumer_id"""
_CONSUMER_SUMS_RAW = """
    SELECT assumeNotNull(consumer_id) AS consumer_id, anyLast(consumer_name) AS consumer_name,
           anyLast(consumer_group) AS consumer_group, count() AS requests,
           countIf(status >= 400 AND status < 500) AS errors_4xx, countIf(status >= 500) AS errors_5xx
    FROM events WHERE {filter} AND consumer_id != '' AND {ranges}
    GROUP BY consumer_id"""
# ``keys``: a JSON array of consumer ids (a page of ``CONSUMERS_PAGE``).
_CONSUMER_STATES = """
    SELECT consumer_id, quantileTDigestMergeState(duration_q) AS duration_q
    FROM {table} WHERE {filter} AND consumer_id IN (SELECT arrayJoin(JSONExtract({keys:String}, 'Array(String)')))
      AND {ranges}
    GROUP BY consumer_id"""
_CONSUMER_STATES_RAW = """
    SELECT assumeNotNull(consumer_id) AS consumer_id, quantileTDigestState(duration_ms) AS duration_q
    FROM events WHERE {filter} AND consumer_id IN (SELECT arrayJoin(JSONExtract({keys:String}, 'Array(String)')))
      AND {ranges}
    GROUP BY consumer_id"""

#: Consumer rollups ``(table, time column, parameter prefix, filter)``, coarsest first. The ``consumers_all_*``
#: tables have no service or environment: a reader gives them ranges only when neither is filtered (and then
#: none to ``consumers_1d``), so each day of the window is read from exactly one of the day levels.
_CONSUMER_LEVELS = (
    ("consumers_all_1w", "week", "w", "project_id = {project_id:String}"),
    ("consumers_all_1d", "day", "a", "project_id = {project_id:String}"),
    ("consumers_1d", "day", "d", FILTER),
    ("consumers_1h", "hour", "h", FILTER),
)


def _consumer_levels(rollup: str, raw: str) -> str:
    """One branch per consumer rollup level and one for the raw table, joined by UNION ALL."""
    branches = [
        rollup.replace("{table}", table)
        .replace("{ranges}", _ranges(column, name, raw=False))
        .replace("{filter}", where)
        for table, column, name, where in _CONSUMER_LEVELS
    ]
    branches.append(raw.replace("{ranges}", _ranges("timestamp", "r", raw=True)).replace("{filter}", FILTER))
    return "\n    UNION ALL".join(branches)


_CONSUMER_KEY = """multiIf(
    {sort:String} = 'error_rate', if(requests = 0, 0, (errors_4xx + errors_5xx) / requests),
    {sort:String} = 'p95_ms', toFloat64(round(p95_ms, 3)),
    toFloat64(requests)
) * if({order:String} = 'desc', -1, 1)"""

CONSUMERS = """
SELECT consumer_id, consumer_name, consumer_group, requests, errors_4xx, errors_5xx, p95_ms, {key} AS sort_key
FROM (
    SELECT consumer_id, anyLast(consumer_name) AS consumer_name, anyLast(consumer_group) AS consumer_group,
           sum(requests) AS requests, sum(errors_4xx) AS errors_4xx, sum(errors_5xx) AS errors_5xx,
           quantileTDigestMerge(0.95)(duration_q) AS p95_ms
    FROM ({levels}
    )
    GROUP BY consumer_id
)
WHERE {has_after:UInt8} = 0 OR (sort_key, consumer_id) > ({after_key:Float64}, {after_consumer:String})
ORDER BY sort_key, consumer_id
LIMIT {limit:UInt32}
""".replace("{key}", _CONSUMER_KEY).replace("{levels}", _consumer_levels(_CONSUMER_BRANCH, _CONSUMER_RAW))

_CONSUMER_COUNT_KEY = """multiIf(
    {sort:String} = 'error_rate', if(requests = 0, 0, (errors_4xx + errors_5xx) / requests),
    toFloat64(requests)
) * if({order:String} = 'desc', -1, 1)"""

#: Consumers sorted by a count, in two queries like endpoints: the page from cheap sums, then p95 merged only for
#: the page's consumers (``CONSUMER_SKETCHES``).
CONSUMERS_PAGE = """
SELECT consumer_id, anyLast(consumer_name) AS consumer_name, anyLast(consumer_group) AS consumer_group,
       sum(requests) AS requests, sum(errors_4xx) AS errors_4xx, sum(errors_5xx) AS errors_5xx,
       {key} AS sort_key
FROM ({sums}
)
GROUP BY consumer_id
HAVING {has_after:UInt8} = 0 OR (sort_key, consumer_id) > ({after_key:Float64}, {after_consumer:String})
ORDER BY sort_key, consumer_id
LIMIT {limit:UInt32}
""".replace("{key}", _CONSUMER_COUNT_KEY).replace("{sums}", _consumer_levels(_CONSUMER_SUMS, _CONSUMER_SUMS_RAW))

CONSUMER_SKETCHES = """
SELECT consumer_id, quantileTDigestMerge(0.95)(duration_q) AS p95_ms
FROM ({states}
)
GROUP BY consumer_id
""".replace("{states}", _consumer_levels(_CONSUMER_STATES, _CONSUMER_STATES_RAW))

_REQUEST_COLUMNS = """event_id, toUnixTimestamp64Milli(timestamp) AS timestamp_ms, service,
       environment, method, path, route, status, duration_ms, request_size, response_size, consumer_id,
       consumer_name, error"""

REQUESTS = f"""
SELECT {_REQUEST_COLUMNS}
FROM events
WHERE {FILTER}
  AND timestamp >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
  AND timestamp < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
  AND ({{route:String}} = '' OR route = {{route:String}})
  AND ({{method:String}} = '' OR method = {{method:String}})
  AND status >= {{status_min:UInt16}} AND status <= {{status_max:UInt16}}
  AND ({{consumer_id:String}} = '' OR consumer_id = {{consumer_id:String}})
  AND duration_ms >= {{min_duration_ms:Float64}}
  AND ({{has_before:UInt8}} = 0
       OR (timestamp, event_id) < (fromUnixTimestamp64Milli({{before_ts:Int64}}, 'UTC'), toUUID({{before_id:String}})))
ORDER BY timestamp DESC, event_id DESC
LIMIT {{limit:UInt32}}
"""

REQUEST = f"""
SELECT {_REQUEST_COLUMNS}, toString(batch_id) AS batch_id, toUnixTimestamp64Milli(received_at) AS received_at_ms,
       ttfb_ms, client_ip, user_agent, consumer_group, attributes, request_headers, response_headers,
       request_body, response_body, aborted, trace_id
FROM events
WHERE project_id = {{project_id:String}} AND event_id = toUUID({{event_id:String}})
LIMIT 1
"""

#: Pipe name -> SQL, the published Tinybird endpoints.
QUERIES = {
    "metrics_overview": OVERVIEW,
    "metrics_loss": LOSS,
    "metrics_timeseries": TIMESERIES,
    "metrics_endpoints": ENDPOINTS,
    "metrics_endpoints_page": ENDPOINTS_PAGE,
    "metrics_endpoint_sketches": ENDPOINT_SKETCHES,
    "metrics_status_codes": STATUS_CODES,
    "metrics_consumers": CONSUMERS,
    "metrics_consumers_page": CONSUMERS_PAGE,
    "metrics_consumer_sketches": CONSUMER_SKETCHES,
    "request_log": REQUESTS,
    "request_detail": REQUEST,
}
