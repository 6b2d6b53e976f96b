"""The landing-zone resource: where raw exports arrive, in the hive-style layout the README describes
(`<source>/date=YYYY-MM-DD/`, `<source>/month=YYYY-MM/`)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from revcast import landing
from revcast.settings import Settings


class LandingZoneResource(dg.ConfigurableResource):
    """Root of the landing zone (env REVCAST_LANDING, default data/landing); the landing sensor's quiet period
    (REVCAST_LANDING_SETTLE_SECONDS) before it takes a partition without a _SUCCESS marker; how long a run
    waits for a recent day's export that has not arrived yet (`arrival_*`)."""

    root: str = Settings.landing
    settle_seconds: int = Settings.landing_settle_seconds
    # a day missing within this many days before today is still arriving: the step is retried, not failed
    arrival_days: int = 2
    arrival_retries: int = 6
    arrival_retry_seconds: int = 600

    def partition_files(self, source: str, key: str) -> list[Path]:
        """The files of one partition; raises MissingLandingFile when there are none."""
        return landing.partition_files(self.root, source, key)

    def partitions_files(self, source: str, keys: list[str]) -> list[tuple[str, list[Path]]]:
        """Files for each key; one error listing every partition that has no file."""
        found, missing = [], []
        for key in keys:
            try:
                found.append((key, self.partition_files(source, key)))
            except landing.MissingLandingFile:
                missing.append(key)
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            error = landing.MissingLandingFile(
                f"no {source} file for {len(missing)} partition(s): {shown} "
                f"(looked in {landing.partition_dir(self.root, source, missing[0]).parent}). "
                "A missing day is not an empty day: land the export, or an empty file with its header."
            )
            if landing.still_arriving(missing, within_days=self.arrival_days):
                raise dg.RetryRequested(
                    max_retries=self.arrival_retries, seconds_to_wait=self.arrival_retry_seconds
                ) from error
            raise error
        return found

    def available_keys(self, source: str) -> list[str]:
        """Partition keys that have files."""
        return landing.available_keys(self.root, source)

    def look_for_changes(
        self, source: str, keys: list[str], state: dict | None, *, now: float
    ) -> landing.LandingChanges:
        """The partitions among `keys` whose content changed since `state` and that are complete
        (`revcast.landing.look_for_changes`, with this zone's quiet period)."""
        return landing.look_for_changes(
            self.root, source, keys, state, now=now, settle_seconds=self.settle_seconds
        )
