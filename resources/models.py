"""The model store: versioned artifacts on disk under warehouse/models/<model>/<partition>/."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from revcast.settings import Settings


class ModelStoreResource(dg.ConfigurableResource):
    """Root folder for trained model artifacts (env REVCAST_MODEL_STORE, default warehouse/models)."""

    root: str = Settings.model_store

    def artifact_dir(self, model: str, partition: str, series: str | None = None) -> Path:
        """The folder for one model's artifact at one training cutoff (created)."""
        path = Path(self.root) / model / partition
        if series:
            path = path / series
        path.mkdir(parents=True, exist_ok=True)
        return path
