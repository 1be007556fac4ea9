"""Session fixtures for real engines."""
