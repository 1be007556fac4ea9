"""sentinel_local"""
