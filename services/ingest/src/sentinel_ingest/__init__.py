"""sentinel_ingest"""
