"""invoice_revenue_models and invoice_revenue_forecasts: the shared tournament on daily revenue per country,
scored on 30-day sums, and the next-30-days revenue per series with 80/95% intervals."""

import functools
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.checks import FORECAST_BOUNDS, forecast_bound_check_specs, forecast_bound_checks
from assets.metadata import plot_metadata, table_definition, table_metadata, tournament_metadata
from assets.partitions import cutoff_of, cutoff_partitions
from resources import ModelStoreResource, WarehouseResource
from revcast.forecasting import (
    SeasonalNaive,
    StatsForecastModel,
    WindowTotal,
    apply_calibration,
    clip_at_zero,
    factors_from_parameters,
    load_forecaster,
)
from revcast.forecasting.engine import local_executor
from revcast.invoices.models import (
    COUNTRY_CODES,
    WINDOW,
    PreviousDays,
    SameDaysLastYear,
    ScaledLastYear,
    revenue_net,
    thirty_day_scores,
    thirty_day_sums,
    window_total,
)
from revcast.invoices.series import ALL
from revcast.invoices.training import training_series
from revcast.plots import interval_bars_png
from revcast.settings import settings
from revcast.tournament import champion_artifacts, run_domain_tournament, write_tournament
from revcast.training import gap_report
from revcast.warehouse import replace_with_frame

DOMAIN = "invoices"
BASELINE = "previous_30_days"
COMBINED = ("auto_ets", "auto_theta", "window_total")


class InvoiceModelsConfig(dg.Config):
    """Tournament settings: series = the top `countries` by revenue in the training window plus 'all'."""

    countries: int = 10
    n_windows: int = 12  # one rolling origin per month over the last year
    fold_step: int = 30
    margin: float = 0.05  # a challenger must beat previous_30_days' MASE by this share to be published
    min_win_share: float = 0.5  # ... and have the lower 30-day error on at least this share of the folds
    top_k: int = 0  # k >= 2: publish the mean of each series' k best candidates first (docs/forecasting.md)
    top_mean_margin: float | None = None  # ... only where its rolling backtest beats previous_30_days by this
    # a model backtested on at least this share of the folds is ranked, against the baseline on the same
    # folds (yearly models cannot be backtested on folds with less than a year of history before them)
    min_fold_share: float = 0.5
    # series with more zero days than this publish the one model best over all series (off: None)
    pooled_above_zero_share: float | None = 0.3
    max_zero_share: float = 0.5  # the pooled net skips series with more zero days than this
    net_epochs: int = 60
    models: list[str] | None = None
    force_champion: str | None = None


def invoice_model_factories(cfg: InvoiceModelsConfig, daily: pd.DataFrame) -> dict:
    """Previous-30-days and same-30-days-last-year baselines, seasonal naive, AICc-selected ETS/ARIMA, Theta, MSTL,
    intermittent-demand models, 30-day totals forecast directly, and the TF net (restricted to cfg.models)."""
    codes = {uid: COUNTRY_CODES.get(uid) for uid in daily["unique_id"].unique() if COUNTRY_CODES.get(uid)}
    entries = {
        "previous_30_days": PreviousDays,
        "same_30_days_last_year": SameDaysLastYear,
        "scaled_last_year": functools.partial(ScaledLastYear, daily[daily["unique_id"] == ALL]),
        "seasonal_naive": functools.partial(SeasonalNaive, season=7),
        "auto_ets": functools.partial(StatsForecastModel, "auto_ets"),
        "auto_arima": functools.partial(StatsForecastModel, "auto_arima", country=codes),
        "auto_theta": functools.partial(StatsForecastModel, "auto_theta"),
        "mstl": functools.partial(StatsForecastModel, "mstl"),
        "croston_sba": functools.partial(StatsForecastModel, "croston_sba"),
        "tsb": functools.partial(StatsForecastModel, "tsb"),
        "window_total": functools.partial(WindowTotal, window=WINDOW),
        "revenue_net": functools.partial(
            revenue_net, daily, epochs=cfg.net_epochs, max_zero_share=cfg.max_zero_share
        ),
    }
    keep = set(cfg.models or entries) | {BASELINE}
    unknown = keep - set(entries)
    if unknown:
        raise ValueError(f"unknown invoice models {sorted(unknown)}; choose from {sorted(entries)}")
    return {name: make for name, make in entries.items() if name in keep}


@dg.asset(
    metadata=table_definition("models.scores"),
    group_name="invoices",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "tensorflow", "python"},
    owners=["team:data-science"],
    # unpartitioned: every cutoff reads the whole history through its last day
    deps=["invoice_daily_revenue"],
    check_specs=[
        dg.AssetCheckSpec(
            "invoice_champions_registered",
            asset="invoice_revenue_models",
            blocking=True,
            description="Every series has exactly one champion in models.registry whose artifact exists on disk.",
        )
    ],
)
def invoice_revenue_models(
    context: dg.AssetExecutionContext,
    config: InvoiceModelsConfig,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
) -> dg.MaterializeResult:
    """30-day revenue tournament per top country and 'all', scored on 30-day sums at monthly rolling origins over
    the last year; previous_30_days is published unless a challenger beats its MASE by the margin and its
    30-day error on most folds, or, with `top_k`, the mean of the k best (the reason is in
    models.registry.fallback_reason)."""
    import tensorflow  # noqa: F401 - imported here so the code location loads fast

    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        daily = training_series(con, last_day.date(), config.countries)
    if daily.empty:
        raise ValueError(
            f"no invoice revenue through {last_day.date()}: materialize invoice_daily_revenue first"
        )
    t = run_domain_tournament(
        DOMAIN,
        cutoff,
        daily.rename(columns={"revenue": "y"})[["unique_id", "ds", "y"]],
        invoice_model_factories(config, daily),
        h=WINDOW,
        n_windows=config.n_windows,
        step=config.fold_step,
        artifact_dir=model_store.artifact_dir,
        baseline=BASELINE,
        combine=COMBINED,
        margin=config.margin,
        min_win_share=config.min_win_share,
        top_k=config.top_k,
        top_mean_margin=config.top_mean_margin,
        min_fold_share=config.min_fold_share,
        pooled_above_zero_share=config.pooled_above_zero_share,
        scorer=thirty_day_scores,
        calibration_frame=thirty_day_sums,
        force_champion=config.force_champion,
        run_id=context.run_id,
        executor=local_executor(settings().workers),
    )
    with warehouse.connect() as con:
        written = write_tournament(con, t)
        registered = champion_artifacts(con, DOMAIN, cutoff)
        scores = tournament_metadata(con, DOMAIN, cutoff, t.scores)
    champ = t.champions
    return dg.MaterializeResult(
        check_results=[champions_registered_check(champ["unique_id"], registered)],
        metadata={
            **scores,
            "tournament": dg.MetadataValue.md(t.table().to_markdown(index=False, floatfmt=".4g")),
            "champions": dg.MetadataValue.md(champ.drop(columns=["model_id"]).to_markdown(index=False)),
            "series": len(champ),
            "fallbacks": int(champ["fallback_reason"].notna().sum()),
            "interpolated_days": dg.MetadataValue.json(gap_report(daily)),
            "rows_written": dg.MetadataValue.json(written),
        },
    )


def champions_registered_check(series: pd.Series, registered: pd.DataFrame) -> dg.AssetCheckResult:
    """One registered champion per series, each with an artifact folder that exists."""
    counts = registered["unique_id"].value_counts()
    missing = sorted(set(series) - set(counts.index))
    repeated = sorted(counts[counts > 1].index)
    absent = sorted(
        registered.loc[~registered["artifact_path"].map(lambda p: bool(p) and Path(p).exists()), "unique_id"]
    )
    problems = [
        f"{label}: {', '.join(map(str, ids))}"
        for label, ids in (
            ("no champion", missing),
            ("several champions", repeated),
            ("artifact missing", absent),
        )
        if ids
    ]
    return dg.AssetCheckResult(
        asset_key="invoice_revenue_models",
        check_name="invoice_champions_registered",
        passed=not problems,
        description="; ".join(problems) or None,
        metadata={
            "series": int(series.nunique()),
            "champions": len(registered),
            "fallbacks": int(registered["fallback_reason"].notna().sum()),
        },
    )


@dg.asset(
    metadata=table_definition("forecasts.invoice_revenue_forecasts"),
    group_name="invoices",
    partitions_def=cutoff_partitions,
    tags={"revcast/partition": "cutoff"},
    pool="duckdb",
    kinds={"duckdb", "python"},
    owners=["team:data-science"],
    deps=["invoice_revenue_models"],
    check_specs=[
        dg.AssetCheckSpec(
            "invoice_forecast_one_row_per_series",
            asset="invoice_revenue_forecasts",
            blocking=True,
            description="One row per champion series of the cutoff.",
        ),
        *forecast_bound_check_specs("invoice_revenue_forecasts", "invoice_forecast", "revenue_30d"),
    ],
)
def invoice_revenue_forecasts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Revenue of the 30 days after the cutoff (as_of = the day after) per country and 'all' from each champion,
    with 80/95% intervals (daily widths combined as independent, then calibrated on the backtests' 30-day
    sums), clipped at 0."""
    cutoff, last_day = cutoff_of(context)
    with warehouse.connect(read_only=True) as con:
        champions = champion_artifacts(con, DOMAIN, cutoff)
    if champions.empty:
        raise ValueError(
            f"no invoice champion registered for cutoff {cutoff}: materialize invoice_revenue_models"
        )
    rows = []
    for r in champions.itertuples():
        fc = load_forecaster(r.artifact_path).predict(WINDOW)
        tot = window_total(fc[fc["unique_id"] == r.unique_id]).assign(horizon=WINDOW)
        tot = apply_calibration(tot, factors_from_parameters(r.parameters, r.unique_id)).iloc[0]
        rows.append(
            {
                "unique_id": r.unique_id,
                "revenue_30d": tot["yhat"],
                **{k: tot[k] for k in ("lo_80", "hi_80", "lo_95", "hi_95")},
                "model": r.model,
                "model_id": r.model_id,
            }
        )
    out = pd.DataFrame(rows)
    clipped = clip_at_zero(out, ["revenue_30d", *FORECAST_BOUNDS])
    out = out.assign(cutoff=cutoff, as_of=(last_day + pd.Timedelta(days=1)).date(), run_id=context.run_id)
    with warehouse.connect() as con:
        replace_with_frame(con, "forecasts.invoice_revenue_forecasts", out, key={"cutoff": cutoff})
        rows, series = con.execute(
            "SELECT count(*), count(DISTINCT unique_id) FROM forecasts.invoice_revenue_forecasts WHERE cutoff = ?",
            [cutoff],
        ).fetchall()[0]
        bound_checks = forecast_bound_checks(
            con,
            asset="invoice_revenue_forecasts",
            prefix="invoice_forecast",
            table="forecasts.invoice_revenue_forecasts",
            point="revenue_30d",
            cutoff=cutoff,
            clipped=clipped,
        )
        metadata = table_metadata(con, "forecasts.invoice_revenue_forecasts", "cutoff = ?", [cutoff])
    metadata["plot_forecast"] = plot_metadata(
        interval_bars_png(
            out, label="unique_id", point="revenue_30d", title=f"revenue of the 30 days after {cutoff}"
        ),
        "30-day revenue forecast",
    )
    n = len(champions)
    checks = [
        dg.AssetCheckResult(
            check_name="invoice_forecast_one_row_per_series",
            passed=bool(rows == n and series == n),
            metadata={"rows": int(rows), "series": int(series), "champions": n},
        ),
        *bound_checks,
    ]
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
