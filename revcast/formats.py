"""The raw export formats (README, "Bring your own data"): the one place the generator writes and ingest reads.

CSV exports are read as RFC 4180 (see revcast.ingest.core.read_records). Per column, required or optional: an
empty required value quarantines its line with the reason `missing <column>`; an empty optional value is NULL
(on the organisation card the literal `None` is NULL too). The *_OPTIONAL tuples below say which is which.
"""

# usage, wide usage form (one column per product) and the long form for any metric
USAGE_WIDE_COLUMNS = ("date", "customer_id", "#api_calls(Product_1)", "storage_capacity_used(Product_2)")
USAGE_LONG_COLUMNS = ("account_id", "metric", "usage_date", "quantity", "unit")
# wide form: a product column may be empty (not measured that day: no row for that metric), but not both
USAGE_WIDE_OPTIONAL = ("#api_calls(Product_1)", "storage_capacity_used(Product_2)")
USAGE_LONG_OPTIONAL = ("tags",)  # an extra column the long form may carry; ignored

# BAS report-run logs and the organisation card
FULLBAS_COLUMNS = (
    "datestring", "timestring", "level", "userid", "orgid", "reportname", "versioncode", "countrycode", "runtime",
)  # fmt: skip
FULLBAS_OPTIONAL = ("versioncode", "countrycode")
SIMPLEBAS_COLUMNS = ("userid", "shortcode", "statementyear", "statementmonth", "datetime")
SIMPLEBAS_OPTIONAL: tuple[str, ...] = ()
ORGCARD_COLUMNS = (
    "organisationid", "shardid", "shortcode", "organisationstatus", "createddateutc", "signupdateutc",
    "productoption", "deleteddateutc", "saleschannel", "channeltype", "salestaxbasis", "salestaxperiod",
    "salestaxtype", "incometaxbasis", "provisionaltaxbasis", "managedbypracticeflag", "payingflag", "marketcode",
    "nonpracticestaffusers", "practicestaffusers", "trialflag",
)  # fmt: skip
# the card's keys and status are required; everything else may be empty (deleteddateutc for every live
# organisation, signupdateutc sometimes) or `None`
ORGCARD_REQUIRED = ("organisationid", "shortcode", "organisationstatus")
ORGCARD_OPTIONAL = tuple(c for c in ORGCARD_COLUMNS if c not in ORGCARD_REQUIRED)


# invoice JSON records: logical field -> accepted spellings (keys drift between monthly exports)
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
