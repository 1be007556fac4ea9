"""A project's request log: filtered, newest first, keyset-paginated; and one request with everything captured."""
