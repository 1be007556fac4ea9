"""sentinel_dashboard"""
