"""sentinel_config"""
