"""The dashboard's object store (archive, scripts, artifacts) and the route serving the local backend's URLs."""

from sentinel_dashboard.storage.lifespan import ObjectsDep, objects_lifespan, provide_objects, public_url

__all__ = ["ObjectsDep", "objects_lifespan", "provide_objects", "public_url"]
