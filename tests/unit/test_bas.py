"""Known-answer tests of the BAS analytics core (revcast.bas) on small hand-built frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revcast.bas import (
    FULLBAS,
    SIMPLEBAS,
    BasAnalysis,
    BasSettings,
    active_paying_scope,
    assign_segments,
    capacity_forecast,
    compare_systems,
    daily_load,
    daily_series_png,
    detect_periods,
    excluded_share,
    forecast_daily_load,
    hour_of_day_load,
    hourly_load,
    hourly_runs_png,
    interaction_profiles,
    key_data_points,
    lodgement_deadline_days,
    mark_repeat_runs,
    monthly_load,
    organisation_segments,
    outage_heatmap_png,
    outage_window_grid,
    peak_hourly_load,
    plan_popularity,
    profile,
    recommend_outage_windows,
    render_bas_report,
    segment_summary,
    segment_tax_period_crosstab,
    stack_systems,
)
from revcast.bas.analysis import forecasts_by_system, periods_by_system

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sydney_local(utc: pd.Series) -> pd.Series:
    """UTC instants as naive Australia/Sydney wall clock, as ingest writes run_at_local."""
    return utc.dt.tz_convert("Australia/Sydney").dt.tz_localize(None)


def _per_system(runs: pd.DataFrame, build, systems) -> pd.DataFrame:
    return pd.concat([build(runs, s) for s in systems if runs["system"].eq(s).any()], ignore_index=True)


def analyse_bas(fullbas, simplebas, orgs, settings: BasSettings) -> BasAnalysis:
    """Every BAS mart computed in memory from the clean frames, as the mart assets compute them one by one."""
    fullbas_in, simplebas_in, scope_report = active_paying_scope(fullbas, simplebas, orgs)
    runs = stack_systems(fullbas_in, simplebas_in)
    daily, hourly = daily_load(runs), hourly_load(runs)
    s = settings
    segments = organisation_segments(runs, orgs, s.repeat_minutes)
    return BasAnalysis(
        settings=s,
        scope_report=scope_report,
        profiles=interaction_profiles(runs),
        comparison=compare_systems(runs, s.repeat_minutes),
        daily=daily,
        monthly=monthly_load(runs),
        hourly=hourly,
        hour_of_day=hour_of_day_load(hourly),
        peak_load=peak_hourly_load(hourly),
        periods=periods_by_system(daily),
        forecast=forecasts_by_system(daily, hourly, s.horizon_days) if s.forecast else pd.DataFrame(),
        outage_grid=_per_system(
            runs, lambda r, x: outage_window_grid(r, x, s.window_hours), (FULLBAS, SIMPLEBAS)
        ),
        outage_windows=_per_system(
            runs,
            lambda r, x: recommend_outage_windows(r, x, s.window_hours, s.top_windows, s.avoid_days),
            (FULLBAS, SIMPLEBAS),
        ),
        segments=segments,
        segment_summary=segment_summary(segments),
        segment_crosstab=segment_tax_period_crosstab(segments),
        key_points=key_data_points(fullbas_in, simplebas_in, orgs, s.small_plan_share),
    )


def fullbas_runs(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Clean Full BAS runs from (UTC instant, user, org, runtime seconds)."""
    utc = pd.to_datetime(pd.Series([r[0] for r in rows], dtype="object")).dt.tz_localize("UTC")
    return pd.DataFrame(
        {
            "run_date": utc.dt.date,
            "run_at_utc": utc,
            "run_at_local": sydney_local(utc),
            "level": "INFO",
            "user_id": [r[1] for r in rows],
            "org_id": [r[2] for r in rows],
            "report_name": "ActivityStatement",
            "version_code": "VERSION/AU",
            "country_code": "CNTRY/AU",
            "runtime_seconds": [float(r[3]) for r in rows],
            "org_known": True,
        }
    )


def simplebas_runs(
    rows: list[tuple[str, str, str, int, int]], org_of: dict[str, str] | None = None
) -> pd.DataFrame:
    """Clean Simple BAS runs from (UTC instant, user, shortcode, statement year, statement month)."""
    utc = pd.to_datetime(pd.Series([r[0] for r in rows], dtype="object")).dt.tz_localize("UTC")
    shortcodes = pd.Series([r[2] for r in rows], dtype="object")
    org_id = shortcodes.map(org_of or {})
    return pd.DataFrame(
        {
            "run_date": utc.dt.date,
            "run_at_utc": utc,
            "run_at_local": sydney_local(utc),
            "user_id": [r[1] for r in rows],
            "shortcode": shortcodes,
            "statement_year": [r[3] for r in rows],
            "statement_month": [r[4] for r in rows],
            "org_id": org_id,
            "org_known": org_id.notna(),
        }
    )


def organisations(rows: list[tuple[str, str, str, bool, str, str | None]]) -> pd.DataFrame:
    """Organisation card from (org_id, shortcode, status, paying, product_option, sales_tax_period)."""
    return pd.DataFrame(
        {
            "org_id": [r[0] for r in rows],
            "shard_id": 1,
            "shortcode": [r[1] for r in rows],
            "organisation_status": [r[2] for r in rows],
            "paying": [r[3] for r in rows],
            "product_option": [r[4] for r in rows],
            "sales_tax_period": [r[5] for r in rows],
            "managed_by_practice": False,
            "trial": False,
        }
    )


# --- Sydney time -------------------------------------------------------------------------------------------


def test_dst_hour_lands_in_the_right_local_hour_profile() -> None:
    runs = stack_systems(
        fullbas_runs(
            [
                ("2021-04-03 15:30", "u", "o", 1),
                ("2021-04-03 16:30", "u", "o", 1),
                ("2021-10-02 16:30", "u", "o", 1),
            ]
        ),
        simplebas_runs([]),
    )
    hours = profile(interaction_profiles(runs), "hour", FULLBAS).set_index("bucket")["runs"]
    assert hours["02:00"] == 2 and hours["03:00"] == 1 and hours.sum() == 3


# --- Scope -------------------------------------------------------------------------------------------------

ORGS = organisations(
    [
        ("a", "!A", "Active", True, "Standard", "Australian Monthly"),
        ("b", "!B", "Deleted", True, "Premium", "Australian Quarterly (Option 1)"),
        ("c", "!C", "Active", False, "Starter", None),
        ("d", "!D", "Suspended", False, "Standard", None),
    ]
)


def test_scope_keeps_active_paying_and_reports_why_the_rest_left() -> None:
    full = fullbas_runs([("2021-03-01 00:00", "u1", o, 1) for o in ["a", "a", "a", "b", "b", "c", "d", "zz"]])
    simple = simplebas_runs([("2021-03-01 00:00", "u2", s, 2021, 2) for s in ["!A", "!A", "!C", "!X"]])
    full_in, simple_in, report = active_paying_scope(full, simple, ORGS)

    assert full_in["org_id"].tolist() == ["a", "a", "a"]
    assert simple_in["org_id"].tolist() == ["a", "a"]  # resolved through the shortcode
    runs = report.set_index(["system", "reason"])["runs"]
    assert runs[FULLBAS].to_dict() == {"in scope": 3, "unknown org": 1, "not active": 3, "not paying": 1}
    assert runs[SIMPLEBAS].to_dict() == {"in scope": 2, "unknown org": 1, "not active": 0, "not paying": 1}
    assert excluded_share(report)[FULLBAS] == pytest.approx(5 / 8)
    assert excluded_share(report)[SIMPLEBAS] == pytest.approx(2 / 4)
    assert report.loc[report["reason"].eq("not active") & report["system"].eq(FULLBAS), "orgs"].item() == 2


# --- Profiles and comparison ---------------------------------------------------------------------------


def test_interaction_profiles_count_buckets_in_sydney_time() -> None:
    # 2021-03-01 is a Monday; 22:00 UTC on Sunday 28 Feb is 09:00 AEDT Monday 1 March.
    full = fullbas_runs(
        [
            ("2021-02-28 22:00", "u1", "a", 2),
            ("2021-02-28 22:30", "u1", "a", 3),
            ("2021-03-02 03:00", "u2", "b", 5),
        ]
    )
    simple = simplebas_runs(
        [("2021-03-01 00:00", "u3", "!A", 2021, 2), ("2021-04-01 00:00", "u3", "!A", 2021, 2)], {"!A": "a"}
    )
    profiles = interaction_profiles(stack_systems(full, simple))

    hours = profile(profiles, "hour", FULLBAS).set_index("bucket")
    assert len(hours) == 24 and hours.loc["09:00", "runs"] == 2 and hours.loc["14:00", "runs"] == 1
    assert hours.loc["09:00", "runtime_seconds"] == 5 and hours.loc["09:00", "share"] == pytest.approx(2 / 3)
    weekdays = profile(profiles, "weekday", FULLBAS).set_index("bucket")["runs"]
    assert weekdays["Monday"] == 2 and weekdays["Tuesday"] == 1 and weekdays.sum() == 3
    days = profile(profiles, "day_of_month", SIMPLEBAS).set_index("bucket")["runs"]
    assert days["1"] == 2 and len(days) == 31
    statement = profile(profiles, "statement_period", SIMPLEBAS)
    assert statement[["bucket", "runs"]].values.tolist() == [["2021-02", 2]]
    lag = profile(profiles, "statement_lag_months", SIMPLEBAS).set_index("bucket")["runs"]
    assert lag.to_dict() == {"1": 1, "2": 1}
    orgs = profile(profiles, "organisation", FULLBAS)
    assert orgs[["bucket", "runs", "bucket_order"]].values.tolist() == [["a", 2, 1], ["b", 1, 2]]
    assert profile(profiles, "hour", SIMPLEBAS)["runtime_seconds"].isna().all()


def test_mark_repeat_runs_same_user_same_org_within_minutes() -> None:
    full = fullbas_runs(
        [
            ("2021-03-01 00:00", "u", "a", 1),
            ("2021-03-01 00:05", "u", "a", 1),  # 5 min after -> repeat
            ("2021-03-01 00:20", "u", "a", 1),  # 15 min -> not
            ("2021-03-01 00:29", "u", "a", 1),  # 9 min -> repeat
            ("2021-03-01 00:30", "u", "b", 1),  # other org -> first run
            ("2021-03-01 00:31", "v", "b", 1),  # other user -> first run
            ("2021-03-01 00:40", "u", "a", 1),  # exactly 11 min -> not
        ]
    )
    marked = mark_repeat_runs(stack_systems(full, simplebas_runs([])))
    assert marked["is_repeat"].tolist() == [False, True, False, True, False, False, False]
    assert marked["minutes_since_previous"].iloc[3] == pytest.approx(9.0)
    wider = mark_repeat_runs(stack_systems(full, simplebas_runs([])), within_minutes=15)
    assert wider["is_repeat"].sum() == 4


def test_compare_systems_known_counts() -> None:
    full = fullbas_runs(
        [
            ("2021-03-01 00:00", "u", "a", 2),
            ("2021-03-01 00:05", "u", "a", 4),
            ("2021-03-02 00:00", "v", "b", 6),
        ]
    )
    simple = simplebas_runs([("2021-03-01 00:00", "u", "!A", 2021, 2)], {"!A": "a"})
    out = compare_systems(stack_systems(full, simple)).set_index("system")
    assert out.loc[FULLBAS, ["runs", "users", "orgs", "repeat_runs", "active_days"]].tolist() == [
        3,
        2,
        2,
        1,
        2,
    ]
    assert out.loc[FULLBAS, "runs_per_org"] == 1.5
    assert out.loc[FULLBAS, "repeat_share"] == pytest.approx(1 / 3)
    assert out.loc[FULLBAS, "users_with_repeats_share"] == 0.5
    assert out.loc[FULLBAS, "runtime_seconds"] == 12 and out.loc[FULLBAS, "mean_runtime_seconds"] == 4
    assert out.loc[SIMPLEBAS, "runs"] == 1 and np.isnan(out.loc[SIMPLEBAS, "runtime_seconds"])


# --- Seasonality -------------------------------------------------------------------------------------------


def test_daily_hourly_and_peak_load() -> None:
    # Sydney (AEDT, UTC+11): 09:xx on 1 March twice, 10:xx once, nothing on 2 March, 09:xx on 3 March.
    full = fullbas_runs(
        [
            ("2021-02-28 22:10", "u", "a", 10),
            ("2021-02-28 22:50", "u", "a", 20),
            ("2021-02-28 23:10", "u", "a", 50),
            ("2021-03-02 22:00", "u", "a", 5),
        ]
    )
    runs = stack_systems(full, simplebas_runs([]))
    daily = daily_load(runs)
    assert daily["runs"].tolist() == [3, 0, 1] and daily["runtime_seconds"].tolist() == [80, 0, 5]
    hourly = hourly_load(runs)
    assert len(hourly) == 2 * 24 + 1  # 09:00 on the 1st to 09:00 on the 3rd
    peak = peak_hourly_load(hourly).set_index("system").loc[FULLBAS]
    assert peak["peak_runs_hour"] == pd.Timestamp("2021-03-01 09:00") and peak["peak_runs"] == 2
    assert (
        peak["peak_runtime_hour"] == pd.Timestamp("2021-03-01 10:00") and peak["peak_runtime_seconds"] == 50
    )


def _synthetic_daily(kind: str, days: int = 730, seed: int = 0) -> pd.Series:
    """Daily load with a weekday/weekend cycle or a lodgement bump before the 21st and 28th."""
    dates = pd.date_range("2019-01-01", periods=days, freq="D")
    noise = np.random.default_rng(seed).normal(0, 5, days)
    day = dates.day.to_numpy()
    monthly = 80 * np.exp(-0.5 * ((day - 20) / 2.0) ** 2) + 60 * np.exp(-0.5 * ((day - 27) / 1.5) ** 2)
    weekly = 50.0 * (dates.dayofweek < 5)
    values = {"weekly": weekly, "monthly": monthly, "both": weekly + monthly}[kind]
    return pd.Series(100 + values + 0.05 * np.arange(days) + noise, index=dates)


def test_detect_periods_finds_the_week() -> None:
    periods = detect_periods(_synthetic_daily("weekly"))
    assert periods["period_days"].iloc[0] == pytest.approx(7.0, abs=0.05)
    assert periods["stl_seasonal_strength"].iloc[0] > 0.8


def test_detect_periods_finds_the_calendar_month() -> None:
    periods = detect_periods(_synthetic_daily("monthly"))
    assert periods["period_days"].iloc[0] == pytest.approx(30.44, abs=0.5)


def test_detect_periods_finds_both_cycles_and_drops_harmonics() -> None:
    found = detect_periods(_synthetic_daily("both"))["period_days"].to_numpy()
    assert np.any(np.abs(found - 7.0) < 0.1) and np.any(np.abs(found - 30.44) < 0.5)
    assert not np.any(np.abs(found - 3.5) < 0.1) and not np.any(np.abs(found - 15.2) < 0.3)


def test_forecast_daily_load_keeps_level_week_and_nested_intervals() -> None:
    history = _synthetic_daily("weekly", days=240)
    out = forecast_daily_load(history, horizon_days=28)
    assert len(out) == 28 and out["date"].iloc[0] == history.index[-1] + pd.Timedelta(days=1)
    assert (out["lower_95"] <= out["lower_80"]).all() and (out["lower_80"] <= out["forecast"]).all()
    assert (out["forecast"] <= out["upper_80"]).all() and (out["upper_80"] <= out["upper_95"]).all()
    weekend = out["date"].dt.dayofweek >= 5
    gap = out.loc[~weekend, "forecast"].mean() - out.loc[weekend, "forecast"].mean()
    assert gap == pytest.approx(50, abs=8)
    assert out["forecast"].mean() == pytest.approx(history.tail(28).mean(), rel=0.1)


def test_capacity_forecast_scales_peak_hour_by_its_share_of_the_day() -> None:
    # Every day: 3 runs at 09:xx and 1 at 14:xx Sydney (UTC+10 in winter) -> busiest hour holds 75% of the day.
    days = pd.date_range("2021-05-01", periods=70, freq="D")
    rows = [(f"{d:%Y-%m-%d} {h}", "u", "a", 1) for d in days for h in ("00:00", "00:20", "00:40", "04:00")]
    runs = stack_systems(fullbas_runs(rows), simplebas_runs([]))
    out = capacity_forecast(daily_load(runs), hourly_load(runs), FULLBAS, measure="runs", horizon_days=14)
    daily = out.loc[out["quantity"].eq("daily_load")].reset_index(drop=True)
    peak = out.loc[out["quantity"].eq("peak_hour_load")].reset_index(drop=True)
    assert out["peak_hour_share"].iloc[0] == pytest.approx(0.75)
    assert daily["forecast"].to_numpy() == pytest.approx(4.0, abs=0.1)
    assert peak["upper_95"].to_numpy() == pytest.approx(0.75 * daily["upper_95"].to_numpy())


# --- Outage window -----------------------------------------------------------------------------------------


def _hourly_runs(start: str, end: str, quiet: pd.Series | None = None) -> pd.DataFrame:
    """One Full BAS run (2 s) at the top of every Sydney hour, minus the hours where `quiet` is True."""
    hours = pd.date_range(start, end, freq="h")
    keep = np.ones(len(hours), dtype=bool) if quiet is None else ~quiet(hours)
    local = pd.Series(hours[keep])
    return pd.DataFrame(
        {
            "system": FULLBAS,
            "run_at_local": local,
            "run_at_utc": local.dt.tz_localize(
                "Australia/Sydney", ambiguous="NaT", nonexistent="NaT"
            ).dt.tz_convert("UTC"),
            "user_id": "u",
            "org_id": "o",
            "runtime_seconds": 2.0,
        }
    )


def test_outage_window_finds_the_quiet_window_and_skips_deadline_days() -> None:
    # Jan-Mar 2021 (no DST change), one run every hour except: day 5 02:00-04:00 in Jan and Feb (quiet) and
    # day 20 01:00-05:00 in every month (quieter, but within the run-up to the 21st deadline).
    def quiet(h: pd.DatetimeIndex) -> np.ndarray:
        day5 = (h.day == 5) & h.hour.isin([2, 3]) & (h.month < 3)
        return day5 | ((h.day == 20) & h.hour.isin([1, 2, 3, 4]))

    runs = _hourly_runs("2021-01-01", "2021-03-31 23:00", quiet)
    best = recommend_outage_windows(runs, FULLBAS)
    assert len(best) == 5 and best["rank"].tolist() == [1, 2, 3, 4, 5]
    assert best[["day_of_month", "start_hour", "window"]].iloc[0].tolist() == [5, 2, "02:00-04:00"]
    assert best["expected_runs"].iloc[0] == pytest.approx(2 / 3)  # (0 + 0 + 2) runs over 3 months
    assert best["expected_runtime_seconds"].iloc[0] == pytest.approx(4 / 3)
    assert best["expected_runs"].is_monotonic_increasing
    assert not best["day_of_month"].isin(lodgement_deadline_days()).any()

    assert best["day_of_month"].is_unique  # one window per day by default
    assert best["expected_runs"].iloc[1] == pytest.approx(
        1.0
    )  # 31st 23:00: Jan 2 + Feb none + Mar 1 (data ends)

    unconstrained = recommend_outage_windows(runs, FULLBAS, avoid_days=(), one_per_day=False)
    assert unconstrained[["day_of_month", "start_hour"]].iloc[:3].values.tolist() == [
        [20, 1],
        [20, 2],
        [20, 3],
    ]


def test_outage_window_wraps_midnight_and_counts_missing_days_as_zero() -> None:
    runs = _hourly_runs("2021-01-01", "2021-03-31 23:00")  # 31 + 28 + 31 days: every window hits 2 runs
    grid = outage_window_grid(runs, FULLBAS).set_index(["day_of_month", "start_hour"])
    assert grid.loc[(10, 5), "expected_runs"] == 2 and grid.loc[(10, 5), "expected_runtime_seconds"] == 4
    # 23:00 on the 10th wraps into 00:00 on the 11th: still 2 runs.
    assert grid.loc[(10, 23), "wraps_midnight"] and grid.loc[(10, 23), "window"] == "23:00-01:00"
    assert grid.loc[(10, 23), "expected_runs"] == 2
    # The 30th exists in Jan and Mar only: (2 + 0 + 2) / 3 months.
    assert grid.loc[(30, 5), "expected_runs"] == pytest.approx(4 / 3)
    assert grid.loc[(30, 5), "months_with_day"] == 2 and grid.loc[(30, 5), "months_observed"] == 3
    # 31 Mar 23:00 runs into April, past the data: 1 run; 31 Jan 23:00 runs into 1 Feb: 2 runs.
    assert grid.loc[(31, 23), "expected_runs"] == pytest.approx(3 / 3)
    assert len(grid) == 31 * 24


def test_outage_window_excludes_windows_wrapping_into_an_avoided_day() -> None:
    # Quiet from 22:00 on the 17th to 01:00 on the 18th: 22:00-24:00 is allowed, 23:00-01:00 runs into the 18th.
    def quiet(h: pd.DatetimeIndex) -> np.ndarray:
        return ((h.day == 17) & (h.hour >= 22)) | ((h.day == 18) & (h.hour == 0))

    runs = _hourly_runs("2021-01-01", "2021-03-31 23:00", quiet)
    best = recommend_outage_windows(runs, FULLBAS, top=3, one_per_day=False)
    assert best[["day_of_month", "start_hour", "window"]].iloc[0].tolist() == [17, 22, "22:00-00:00"]
    assert not ((best["day_of_month"] == 17) & (best["start_hour"] == 23)).any()
    free = recommend_outage_windows(runs, FULLBAS, avoid_days=(), top=2, one_per_day=False)
    assert free[["day_of_month", "start_hour"]].values.tolist() == [[17, 22], [17, 23]]
    assert free["wraps_midnight"].tolist() == [False, True]


def test_outage_window_ties_break_on_the_quieter_margin() -> None:
    # 00:00-02:00 is empty on the 3rd and the 9th; the 3rd is earlier but has 4 extra runs at 23:00 on the 2nd
    # (January only), inside its 2-hour margin.
    runs = _hourly_runs("2021-01-01", "2021-03-31 23:00", lambda h: h.day.isin([3, 9]) & (h.hour < 2))
    busy_evening = _hourly_runs("2021-01-02 23:00", "2021-01-02 23:00").loc[[0, 0, 0, 0]]
    both = pd.concat([runs, busy_evening], ignore_index=True)
    best = recommend_outage_windows(both, FULLBAS, top=2)
    assert best[["day_of_month", "start_hour"]].values.tolist() == [[9, 0], [3, 0]]
    assert best["expected_runs"].tolist() == [0, 0]
    # margin 22:00-04:00: 22, 23, 02, 03 -> 4 runs a month, plus 4 / 3 months on the 3rd
    assert best["expected_runs_with_margin"].tolist() == [pytest.approx(4.0), pytest.approx(4 + 4 / 3)]


def test_lodgement_deadline_days_default_and_parameters() -> None:
    assert lodgement_deadline_days() == (18, 19, 20, 21, 25, 26, 27, 28)
    assert lodgement_deadline_days((21,), days_before=1) == (20, 21)


# --- Segments ----------------------------------------------------------------------------------------------


def _segment_fixture() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    rows += [(f"2021-{m:02d}-10 00:00", "u1", "monthly", 1) for m in range(1, 8)]
    rows += [(f"2021-{m:02d}-20 00:00", "u2", "quarterly", 1) for m in (2, 4, 7, 10)]  # deadline months
    rows += [("2021-06-01 00:00", "u3", "occasional", 1)]
    rows += [(f"2021-03-0{d} 00:{k:02d}", "u4", "heavy", 1) for d in (1, 2) for k in range(0, 60, 5)]
    orgs = organisations(
        [
            ("monthly", "!M", "Active", True, "Standard", "Australian Monthly"),
            ("quarterly", "!Q", "Active", True, "Standard", "Australian Quarterly (Option 2)"),
            ("occasional", "!O", "Active", True, "Starter", "Australian Quarterly (Option 1)"),
            ("heavy", "!H", "Active", True, "Premium", None),
        ]
    )
    return stack_systems(fullbas_runs(rows), simplebas_runs([])), orgs


def test_segments_assign_cadence_repeat_runners_and_tax_period_agreement() -> None:
    runs, orgs = _segment_fixture()
    segments = organisation_segments(runs, orgs).set_index("org_id")
    assert segments["segment"].to_dict() == {
        "heavy": "heavy repeat runner",
        "monthly": "monthly lodger",
        "occasional": "occasional",
        "quarterly": "quarterly lodger",
    }
    assert (
        segments.loc["monthly", "median_gap_months"] == 1
        and segments.loc["quarterly", "median_gap_months"] == 3
    )
    assert segments.loc["heavy", "repeat_share"] == pytest.approx(22 / 24)
    # heavy: one active month (occasional cadence) and no declared period -> agrees; occasional declares quarterly.
    assert segments["agrees"].to_dict() == {
        "heavy": True,
        "monthly": True,
        "occasional": False,
        "quarterly": True,
    }

    summary = segment_summary(segments.reset_index()).set_index("segment")
    assert summary["orgs"].sum() == 4 and summary.loc["heavy repeat runner", "runs"] == 24
    assert summary.loc["heavy repeat runner", "run_share"] == pytest.approx(24 / 36)
    assert summary.loc["monthly lodger", "agreement_rate"] == 1.0


def test_segment_rules_are_parameters() -> None:
    runs, orgs = _segment_fixture()
    from revcast.bas import SegmentRules, organisation_usage

    strict = assign_segments(organisation_usage(runs), SegmentRules(heavy_repeat_share=0.95)).set_index(
        "org_id"
    )
    assert strict.loc["heavy", "segment"] == "occasional"  # one active month, no longer a repeat runner


# --- Key data points ---------------------------------------------------------------------------------------


def test_key_data_points_on_a_tiny_frame() -> None:
    # Sydney months: 31 Jan 14:00 UTC is 1 Feb 01:00 AEDT, so that Full BAS run belongs to February.
    full = fullbas_runs(
        [
            ("2021-01-10 00:00", "u1", "a", 1),
            ("2021-01-31 14:00", "u1", "b", 1),
            ("2021-02-10 00:00", "u2", "a", 1),
        ]
    )
    simple = simplebas_runs(
        [
            ("2021-03-01 00:00", "u3", "!A", 2021, 2),
            ("2021-03-02 00:00", "u3", "!A", 2021, 2),
            ("2021-03-03 00:00", "u3", "!C", 2021, 2),
            ("2021-01-05 00:00", "u2", "!C", 2020, 12),
        ],
        {"!A": "a", "!C": "c"},
    )
    orgs = organisations(
        [
            ("a", "!A", "Active", True, "Standard", None),
            ("b", "!B", "Active", True, "Standard", None),
            ("c", "!C", "Active", True, "Premium", None),
        ]
    )
    points = key_data_points(full, simple, orgs)
    assert points["busiest_month"][FULLBAS] == {"month": "2021-02", "runs": 2}
    assert points["busiest_month"][SIMPLEBAS] == {"month": "2021-03", "runs": 3}
    assert points["busiest_month"]["combined"] == {"month": "2021-03", "runs": 3}  # Jan 2, Feb 2, Mar 3
    assert points["orgs_ran_both"] == 1  # a
    assert points["users_either"] == 3
    assert points["users_multi_org"] == 3  # u1: a,b; u2: a,c; u3: a,c
    plans = points["popular_plans"]
    assert plans.values.tolist() == [["Standard", 2, 2 / 3], ["Premium", 1, 1 / 3]]


def test_plan_popularity_groups_small_plans_as_other() -> None:
    plans = ["Standard"] * 60 + ["Premium"] * 36 + ["Starter"] * 2 + ["Ledger"] * 2
    orgs = pd.DataFrame({"org_id": [f"o{i}" for i in range(100)], "product_option": plans})
    out = plan_popularity(orgs, orgs["org_id"], small_plan_share=0.03)
    assert out.values.tolist() == [["Standard", 60, 0.6], ["Premium", 36, 0.36], ["Other", 4, 0.04]]


# --- Plots and the report ----------------------------------------------------------------------------------


def _sample(
    seed: int = 1, days: int = 120, n_orgs: int = 30
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A small random landing of both systems for end-to-end checks (deadline-heavy, business hours)."""
    rng = np.random.default_rng(seed)
    org_ids = [f"{i:08x}-0000-0000-0000-000000000000" for i in range(n_orgs)]
    status = rng.choice(["Active", "Active", "Active", "Deleted"], n_orgs)
    orgs = organisations(
        [
            (
                o,
                f"!S{i:03d}",
                status[i],
                bool(rng.random() > 0.1),
                rng.choice(["Standard", "Premium", "Starter"]),
                rng.choice(["Australian Monthly", "Australian Quarterly (Option 1)"]),
            )
            for i, o in enumerate(org_ids)
        ]
    )
    n = 3000
    day = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, days, n), unit="D")
    near_deadline = rng.random(n) < 0.5
    day = day.where(
        ~near_deadline,
        day - pd.to_timedelta(day.day, unit="D") + pd.to_timedelta(rng.choice([20, 27], n), unit="D"),
    )
    utc = (
        day
        + pd.to_timedelta(rng.integers(-2, 8, n), unit="h")
        + pd.to_timedelta(rng.integers(0, 3600, n), unit="s")
    )
    org = rng.integers(0, n_orgs, n)
    user = [f"user{u}" for u in rng.integers(0, 40, n)]
    full_mask = rng.random(n) < 0.7
    full = fullbas_runs(
        [
            (str(t), u, org_ids[o], r)
            for t, u, o, r, m in zip(utc, user, org, rng.gamma(2, 1.5, n), full_mask, strict=True)
            if m
        ]
    )
    simple = simplebas_runs(
        [
            (str(t), u, f"!S{o:03d}", t.year, t.month)
            for t, u, o, m in zip(utc, user, org, full_mask, strict=True)
            if not m
        ],
        dict(zip(orgs["shortcode"], orgs["org_id"], strict=True)),
    )
    return full, simple, orgs


def test_plots_are_png_bytes() -> None:
    full, simple, _ = _sample(days=40)
    runs = stack_systems(full, simple)
    assert hourly_runs_png(interaction_profiles(runs)).startswith(PNG_MAGIC)
    assert daily_series_png(daily_load(runs)).startswith(PNG_MAGIC)
    grid = outage_window_grid(runs, FULLBAS)
    assert outage_heatmap_png(grid, recommend_outage_windows(runs, FULLBAS)).startswith(PNG_MAGIC)


def test_analysis_and_report_end_to_end_match_independent_pandas() -> None:
    full, simple, orgs = _sample()
    analysis = analyse_bas(full, simple, orgs, BasSettings(horizon_days=30))
    # independent computation of the scope and the key data points
    good = orgs.loc[orgs["organisation_status"].eq("Active") & orgs["paying"]]
    full_in = full.loc[full["org_id"].isin(good["org_id"])]
    simple_in = simple.loc[simple["shortcode"].isin(good["shortcode"])]
    k = analysis.key_points
    assert k["orgs_ran_both"] == len(set(full_in["org_id"]) & set(simple_in["org_id"]))
    users = pd.concat([full_in[["user_id", "org_id"]], simple_in[["user_id", "org_id"]]])
    assert k["users_either"] == users["user_id"].nunique()
    assert k["users_multi_org"] == int((users.groupby("user_id")["org_id"].nunique() > 1).sum())
    months = (
        pd.concat([full_in["run_at_local"], simple_in["run_at_local"]]).dt.strftime("%Y-%m").value_counts()
    )
    assert k["busiest_month"]["combined"] == {"month": months.idxmax(), "runs": int(months.max())}
    assert analysis.comparison.set_index("system").loc[FULLBAS, "runs"] == len(full_in)
    assert set(analysis.outage_windows["system"]) == {FULLBAS, SIMPLEBAS}
    assert len(analysis.outage_windows) == 10
    assert analysis.segment_summary["orgs"].sum() == users["org_id"].nunique()

    page = render_bas_report(analysis)
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") >= 6
    for text in ("How and when", "compared", "Seasonality", "outage window", "segments", "Key data points"):
        assert text in page
    assert f"{k['users_either']:,} users ran either report" in page
    best = analysis.outage_windows.iloc[0]
    assert f"day {best['day_of_month']} of the month, {best['window']}" in page
