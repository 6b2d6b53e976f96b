"""Where failed runs are announced: an optional webhook (env REVCAST_ALERT_WEBHOOK_URL, passed as dg.EnvVar)."""

from __future__ import annotations

import dagster as dg

from revcast.alerts import RunFailure, post_failure


class AlertsResource(dg.ConfigurableResource):
    """`webhook_url`: an http(s) URL that each failed run is posted to as JSON; unset, nothing is posted. It
    often carries a token, so it comes from the environment (dg.EnvVar), never from code or data."""

    webhook_url: str | None = None

    def announce(self, failure: RunFailure, log) -> bool:
        """Post the failure; False when no webhook is set or the post failed (logged, never raised)."""
        if not self.webhook_url:
            return False
        try:
            return post_failure(self.webhook_url, failure)
        except Exception as exc:  # an alert that cannot be delivered must not hide the failure itself
            log.warning(f"alert webhook failed for run {failure.run_id}: {type(exc).__name__}: {exc}")
            return False
