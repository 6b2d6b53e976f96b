"""Dagster resources: thin, environment-configured wrappers over the revcast core."""

from resources.alerts import AlertsResource
from resources.dask import DaskResource
from resources.landing import LandingZoneResource
from resources.models import ModelStoreResource
from resources.warehouse import WarehouseResource, default_resources

__all__ = [
    "AlertsResource",
    "DaskResource",
    "LandingZoneResource",
    "ModelStoreResource",
    "WarehouseResource",
    "default_resources",
]
