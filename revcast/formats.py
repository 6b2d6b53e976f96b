"""The raw export formats of DESIGN.md ("Raw formats"): the one place the generator writes and ingest reads."""

# usage, seed-000 wide form (one column per product) and the long form for any metric
USAGE_WIDE_COLUMNS = ("date", "customer_id", "#api_calls(Product_1)", "storage_capacity_used(Product_2)")
USAGE_LONG_COLUMNS = ("account_id", "metric", "usage_date", "quantity", "unit")

# BAS report-run logs and the organisation card (seed 001)
FULLBAS_COLUMNS = (
    "datestring", "timestring", "level", "userid", "orgid", "reportname", "versioncode", "countrycode", "runtime",
)  # fmt: skip
SIMPLEBAS_COLUMNS = ("userid", "shortcode", "statementyear", "statementmonth", "datetime")
ORGCARD_COLUMNS = (
    "organisationid", "shardid", "shortcode", "organisationstatus", "createddateutc", "signupdateutc",
    "productoption", "deleteddateutc", "saleschannel", "channeltype", "salestaxbasis", "salestaxperiod",
    "salestaxtype", "incometaxbasis", "provisionaltaxbasis", "managedbypracticeflag", "payingflag", "marketcode",
    "nonpracticestaffusers", "practicestaffusers", "trialflag",
)  # fmt: skip

# invoice JSON records (seed 002): logical field -> accepted spellings (keys drift between monthly exports)
INVOICE_KEY_VARIANTS: dict[str, tuple[str, ...]] = {
    "country": ("country",),
    "customer_id": ("customer_id",),
    "invoice": ("invoice",),
    "price": ("price", "total_price"),
    "stream_id": ("stream_id", "StreamID"),
    "times_viewed": ("times_viewed", "TimesViewed"),
    "year": ("year",),
    "month": ("month",),
    "day": ("day",),
}
