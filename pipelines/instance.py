"""The embedded instance's event log: Dagster's SQLite storage, with pool slots that a dead run cannot keep.

Every warehouse writer is in the `duckdb` pool (limit 1). Dagster frees a run's slots when the run ends,
and the daemon's run monitoring (`free_slots_after_run_end_seconds` in .dagster/dagster.yaml) frees those of
runs marked finished; but a run killed by SIGKILL, the OOM killer or a reboot stays STARTED with its slot, and
every later writer would wait for it forever. So whenever a claim on a pool is blocked, this storage looks at
the runs holding or queued for that pool: a run that has ended, no longer exists, or whose processes (the pids
its executor logged; SQLite storage means one machine) are all gone is marked failed and its slots are freed.

A blocked claim also waits a second here before answering: Dagster's executors poll a blocked claim in a tight
loop, which would otherwise keep a core at 100% for as long as a step waits for the pool.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from dagster._utils.concurrency import ConcurrencyClaimStatus

BLOCKED_CLAIM_WAIT_SECONDS = 1.0  # how long a blocked claim waits before the executor asks again
RECOVERY_INTERVAL_SECONDS = 5.0  # how often, per pool, a blocked claim looks for dead slot holders


def _boot_time() -> float | None:
    """This machine's boot time (epoch seconds), from /proc/stat; None where there is no /proc."""
    try:
        with open("/proc/stat") as stat:
            return next(float(line.split()[1]) for line in stat if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None


def pid_alive(pid: int, logged_at: float | None = None) -> bool:
    """Whether the process that logged `pid` (at `logged_at`) still runs: it exists, is not a zombie (killed,
    not yet reaped) and, where /proc tells, did not start after it logged (a reused pid, e.g. after a reboot)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return True
    if fields[0] == "Z":
        return False
    boot = _boot_time()
    if logged_at is not None and boot is not None:
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return started <= logged_at + 2.0  # clock-tick and boot-time rounding
    return True


def run_pids(instance: dg.DagsterInstance, run_id: str) -> dict[int, float]:
    """The pids a run's executor and run worker logged in their engine events, with when they logged them."""
    pids: dict[int, float] = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        value = (data.metadata or {}).get("pid") if data else None
        text = getattr(value, "value", value)
        if isinstance(text, str | int) and str(text).isdigit():
            pids.setdefault(int(text), entry.timestamp)
    return pids


def why_dead(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """Why a run can no longer use its pool slots, or None while it may still be running."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return "the run no longer exists"
    if run.status in FINISHED_STATUSES:
        return f"the run has ended ({run.status.value})"
    pids = run_pids(instance, run_id)
    if pids and not any(pid_alive(pid, logged_at) for pid, logged_at in pids.items()):
        return f"its process(es) {', '.join(map(str, sorted(pids)))} are gone (killed, crashed or rebooted)"
    return None  # alive, or not started far enough to have logged a pid


def free_slots_of_dead_runs(
    instance: dg.DagsterInstance, pool: str, *, except_run: str | None = None
) -> Mapping[str, str]:
    """Free the pool slots (held or queued) of runs that are no longer alive; mark such runs failed.

    Returns {run_id: reason} for the runs whose slots were freed.
    """
    storage = instance.event_log_storage
    info = storage.get_concurrency_info(pool)
    holders = {slot.run_id for slot in info.claimed_slots} | {step.run_id for step in info.pending_steps}
    freed = {}
    for run_id in sorted(holders - {except_run, None}):
        reason = why_dead(instance, run_id)
        if reason is None:
            continue
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status not in FINISHED_STATUSES:
            instance.report_run_failed(
                run, f"Marked failed: {reason}. Its `{pool}` pool slots were freed so later runs can proceed."
            )
        storage.free_concurrency_slots_for_run(run_id)
        freed[run_id] = reason
    return freed


class RecoveringSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose blocked pool claims free the slots of dead runs and wait instead of spinning.

    Configure it in dagster.yaml (`event_log_storage`, module `pipelines.instance`); `base_dir` defaults to
    where Dagster's own SQLite event log lives under $DAGSTER_HOME, so an existing instance keeps its history.
    """

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        if base_dir is None:
            base_dir = os.path.join(os.environ.get("DAGSTER_HOME", ".dagster"), "history", "runs", "")
        super().__init__(base_dir, inst_data=inst_data)
        self._last_recovery: dict[str, float] = {}

    @classmethod
    def config_type(cls) -> dict:
        return {"base_dir": dg.Field(dg.StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # ty: ignore[invalid-method-override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping
    ) -> RecoveringSqliteEventLogStorage:
        return cls(inst_data=inst_data, **dict(config_value))

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        if status.is_claimed:
            return status
        now = time.monotonic()
        if now - self._last_recovery.get(concurrency_key, float("-inf")) >= RECOVERY_INTERVAL_SECONDS:
            self._last_recovery[concurrency_key] = now
            if free_slots_of_dead_runs(self._instance, concurrency_key, except_run=run_id):
                status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
                if status.is_claimed:
                    return status
        time.sleep(BLOCKED_CLAIM_WAIT_SECONDS)
        return status.with_sleep_interval(0.0)
