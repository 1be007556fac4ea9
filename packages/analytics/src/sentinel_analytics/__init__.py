"""Sentinel's analytics store: schema migrations, the write path and queries, on ClickHouse or Tinybird."""
