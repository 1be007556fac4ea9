"""sentinel_worker"""
