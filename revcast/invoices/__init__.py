"""Invoices core: read monthly JSON exports, daily revenue series and features (baselines: models.py)."""

from revcast.invoices.ingest import (
    ALLOWED_KEYS,
    CLEAN_SCHEMA,
    KEY_VARIANTS,
    PARSER_VERSION,
    PARTITION_EXPR,
    QUARANTINE_SCHEMA,
    InvoiceBatch,
    InvoiceFileError,
    default_price_range,
    parse_invoice_partitions,
    read_invoice_file,
)
from revcast.invoices.series import (
    ALL,
    DAILY_COLUMNS,
    FEATURE_COLUMNS,
    FEATURE_WINDOWS,
    daily_revenue,
    daily_revenue_sql,
    revenue_features,
    revenue_features_sql,
    top_countries,
)

__all__ = [
    "ALL",
    "ALLOWED_KEYS",
    "CLEAN_SCHEMA",
    "DAILY_COLUMNS",
    "FEATURE_COLUMNS",
    "FEATURE_WINDOWS",
    "KEY_VARIANTS",
    "PARSER_VERSION",
    "PARTITION_EXPR",
    "QUARANTINE_SCHEMA",
    "InvoiceBatch",
    "InvoiceFileError",
    "daily_revenue",
    "daily_revenue_sql",
    "default_price_range",
    "parse_invoice_partitions",
    "read_invoice_file",
    "revenue_features",
    "revenue_features_sql",
    "top_countries",
]
