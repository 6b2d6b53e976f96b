"""Dagster resources: thin, environment-configured wrappers over the revcast core."""

from resources.landing import LandingZoneResource
from resources.models import ModelStoreResource
from resources.warehouse import WarehouseResource, default_resources

__all__ = ["LandingZoneResource", "ModelStoreResource", "WarehouseResource", "default_resources"]
