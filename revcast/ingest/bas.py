"""BAS report-run exports (fullbas, simplebas) and the organisation card (orgcard) to clean rows.

As for usage, quarantine is per raw line: a line with any bad field goes whole to quarantine with every reason
found, so lines read = lines clean + lines quarantined. Instants are UTC (TIMESTAMPTZ) with the Australia/Sydney
wall clock beside them (DuckDB's ICU `timezone()`, DST-correct). GUIDs are lower-cased. A run whose
organisation is not on the card is valid: it stays clean, with `org_known = false`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from revcast.formats import FULLBAS_COLUMNS, ORGCARD_COLUMNS, SIMPLEBAS_COLUMNS
from revcast.ingest.core import (
    QUARANTINE_SCHEMA,
    RECORDS_SCHEMA,
    ParsedBatch,
    RawFileError,
    read_records,
    split_header,
)

PARSER_VERSION = {
    "fullbas": "fullbas/2",
    "simplebas": "simplebas/2",
    "orgcard": "orgcard/2",
}  # 2: RFC 4180, empty = NULL
SNAPSHOT_KEY = "snapshot"  # the partition key of the unpartitioned organisation card
SYDNEY = "Australia/Sydney"
ORG_STATUSES = ("Active", "Deleted", "Suspended")
GUID = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
KNOWN_ORGS_SCHEMA = pa.schema([("org_id", pa.string()), ("shortcode", pa.string())])
_UTC = pa.timestamp("us", tz="UTC")

FULLBAS_SCHEMA = pa.schema(
    [
        ("run_date", pa.date32()),
        ("run_at_utc", _UTC),
        ("run_at_local", pa.timestamp("us")),
        ("level", pa.string()),
        ("user_id", pa.string()),
        ("org_id", pa.string()),
        ("report_name", pa.string()),
        ("version_code", pa.string()),
        ("country_code", pa.string()),
        ("runtime_seconds", pa.float64()),
        ("org_known", pa.bool_()),
        ("source_file", pa.string()),
    ]
)
SIMPLEBAS_SCHEMA = pa.schema(
    [
        ("run_date", pa.date32()),
        ("run_at_utc", _UTC),
        ("run_at_local", pa.timestamp("us")),
        ("user_id", pa.string()),
        ("shortcode", pa.string()),
        ("statement_year", pa.int32()),
        ("statement_month", pa.int32()),
        ("org_id", pa.string()),
        ("org_known", pa.bool_()),
        ("source_file", pa.string()),
    ]
)
ORGANISATIONS_SCHEMA = pa.schema(
    [
        ("org_id", pa.string()),
        ("shard_id", pa.int32()),
        ("shortcode", pa.string()),
        ("organisation_status", pa.string()),
        ("created_at_utc", pa.timestamp("us")),
        ("signup_at_utc", pa.timestamp("us")),
        ("product_option", pa.string()),
        ("deleted_at_utc", pa.timestamp("us")),
        ("sales_channel", pa.string()),
        ("channel_type", pa.string()),
        ("sales_tax_basis", pa.string()),
        ("sales_tax_period", pa.string()),
        ("sales_tax_type", pa.string()),
        ("income_tax_basis", pa.string()),
        ("provisional_tax_basis", pa.string()),
        ("managed_by_practice", pa.bool_()),
        ("paying", pa.bool_()),
        ("market_code", pa.string()),
        ("non_practice_staff_users", pa.int32()),
        ("practice_staff_users", pa.int32()),
        ("trial", pa.bool_()),
        ("source_file", pa.string()),
    ]
)


def check_header(path: Path, header: Sequence[str], expected: Sequence[str], what: str) -> dict[str, int]:
    """Column positions (1-based) of a header that has exactly the expected columns (any order)."""
    names = split_header(path, header)
    missing = [c for c in expected if c not in names]
    extra = [c for c in names if c not in expected]
    if missing or extra:
        parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
        parts += [f"unexpected column(s) {', '.join(extra)}"] if extra else []
        raise RawFileError(
            path,
            1,
            f"header does not match a {what} export ({'; '.join(parts)}). Expected `{','.join(expected)}`",
        )
    return {name: i + 1 for i, name in enumerate(names)}


def _field(positions: dict[str, int], name: str, alias: str) -> str:
    """A field by name, trimmed; empty is NULL (a rule says "missing" where the column is required)."""
    return f"nullif(trim(f[{positions[name]}]), '') AS {alias}"


# Each export: the SQL that names its fields, types them and lists every failed rule (one CASE per rule).
_FULLBAS_TYPED = """
    CASE WHEN regexp_full_match(date_txt, '\\d{4}-\\d{2}-\\d{2}')
              AND regexp_full_match(time_txt, '\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?Z')
         THEN timezone('UTC', TRY_CAST(date_txt || ' ' || rtrim(time_txt, 'Z') AS TIMESTAMP)) END AS run_at_utc,
    TRY_CAST(runtime_txt AS DOUBLE) AS runtime_value
"""
_FULLBAS_RULES = """
    CASE WHEN n_ok AND date_txt IS NULL THEN 'missing datestring' END,
    CASE WHEN n_ok AND time_txt IS NULL THEN 'missing timestring' END,
    CASE WHEN n_ok AND date_txt IS NOT NULL AND time_txt IS NOT NULL AND run_at_utc IS NULL
         THEN format('malformed timestamp ''{} {}'' (expected YYYY-MM-DD and HH:MM:SS.ffffZ, UTC)', date_txt, time_txt) END,
    CASE WHEN run_at_utc IS NOT NULL AND run_at_utc::DATE <> partition_date
         THEN format('run date {} is outside partition {}', run_at_utc::DATE, partition_date) END,
    CASE WHEN n_ok AND level_txt IS NULL THEN 'missing level' END,
    CASE WHEN n_ok AND user_txt IS NULL THEN 'missing userid' END,
    CASE WHEN n_ok AND NOT regexp_full_match(user_txt, $guid) THEN format('malformed userid ''{}''', user_txt) END,
    CASE WHEN n_ok AND org_txt IS NULL THEN 'missing orgid' END,
    CASE WHEN n_ok AND NOT regexp_full_match(org_txt, $guid) THEN format('malformed orgid ''{}''', org_txt) END,
    CASE WHEN n_ok AND report_txt IS NULL THEN 'missing reportname' END,
    CASE WHEN n_ok AND runtime_txt IS NULL THEN 'missing runtime' END,
    CASE WHEN n_ok AND runtime_txt IS NOT NULL AND runtime_value IS NULL
         THEN format('non-numeric runtime ''{}''', runtime_txt) END,
    CASE WHEN runtime_value IS NOT NULL AND NOT isfinite(runtime_value)
         THEN format('non-finite runtime ''{}''', runtime_txt) END,
    CASE WHEN isfinite(runtime_value) AND runtime_value < 0 THEN format('negative runtime {}', runtime_txt) END
"""
_SIMPLEBAS_TYPED = """
    CASE WHEN regexp_full_match(datetime_txt, '\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?')
         THEN timezone('UTC', TRY_CAST(datetime_txt AS TIMESTAMP)) END AS run_at_utc,
    CASE WHEN regexp_full_match(year_txt, '\\d{4}') THEN TRY_CAST(year_txt AS INTEGER) END AS statement_year,
    CASE WHEN regexp_full_match(month_txt, '\\d{1,2}') THEN TRY_CAST(month_txt AS INTEGER) END AS statement_month
"""
_SIMPLEBAS_RULES = """
    CASE WHEN n_ok AND datetime_txt IS NULL THEN 'missing datetime' END,
    CASE WHEN n_ok AND datetime_txt IS NOT NULL AND run_at_utc IS NULL
         THEN format('malformed datetime ''{}'' (expected YYYY-MM-DD HH:MM:SS, UTC)', datetime_txt) END,
    CASE WHEN run_at_utc IS NOT NULL AND run_at_utc::DATE <> partition_date
         THEN format('run date {} is outside partition {}', run_at_utc::DATE, partition_date) END,
    CASE WHEN n_ok AND user_txt IS NULL THEN 'missing userid' END,
    CASE WHEN n_ok AND NOT regexp_full_match(user_txt, $guid) THEN format('malformed userid ''{}''', user_txt) END,
    CASE WHEN n_ok AND shortcode_txt IS NULL THEN 'missing shortcode' END,
    CASE WHEN n_ok AND (shortcode_txt = 'None' OR regexp_matches(shortcode_txt, '\\s'))
         THEN format('malformed shortcode ''{}''', shortcode_txt) END,
    CASE WHEN n_ok AND year_txt IS NULL THEN 'missing statementyear' END,
    CASE WHEN n_ok AND year_txt IS NOT NULL AND NOT coalesce(statement_year BETWEEN 1990 AND 2100, FALSE)
         THEN format('invalid statementyear ''{}''', year_txt) END,
    CASE WHEN n_ok AND month_txt IS NULL THEN 'missing statementmonth' END,
    CASE WHEN n_ok AND month_txt IS NOT NULL AND NOT coalesce(statement_month BETWEEN 1 AND 12, FALSE)
         THEN format('invalid statementmonth ''{}''', month_txt) END
"""


def _judge_sql(n_fields: int, fields: str, typed: str, rules: str, key: str) -> str:
    """Split lines into fields, type them, collect every failed rule, then flag duplicate keys."""
    return f"""
    CREATE OR REPLACE TEMP TABLE _judged AS
    WITH split AS (
        SELECT source_file, line_number, partition_key, TRY_CAST(partition_key AS DATE) AS partition_date, line,
               problem, fields AS f, len(fields) AS n_fields, len(fields) = {n_fields} AS n_ok
        FROM _lines
    ), fields AS (
        SELECT *, {fields} FROM split
    ), typed AS (
        SELECT *, {typed} FROM fields
    ), judged AS (
        SELECT *, concat_ws('; ',
            problem,
            CASE WHEN trim(line) = '' THEN 'blank line' END,
            CASE WHEN trim(line) <> '' AND NOT n_ok
                 THEN format('expected {n_fields} comma-separated fields, got {{}}', n_fields) END,
            {rules}
        ) AS reason
        FROM typed
    ), ranked AS (
        SELECT *,
               CASE WHEN reason = '' THEN row_number() OVER dup END AS dup_rank,
               CASE WHEN reason = '' THEN first_value(line_number) OVER dup END AS first_line
        FROM judged
        WINDOW dup AS (PARTITION BY reason = '', {key} ORDER BY source_file, line_number)
    )
    SELECT * REPLACE (
        CASE WHEN dup_rank > 1 THEN format('duplicate of line {{}}', first_line) ELSE reason END AS reason
    ) FROM ranked
    """


def _read(
    partitions: Sequence[tuple[str, list[Path]]], expected: Sequence[str], what: str
) -> tuple[pa.Table, dict]:
    """Every data line of the partitions with file, line number and partition; one header layout for all files."""
    tables, layout = [], None
    for key, files in partitions:
        for path in files:
            parsed = read_records(path)
            positions = check_header(path, parsed.header, expected, what)
            if layout is not None and positions != layout:
                raise RawFileError(
                    path, 1, f"header column order differs from the other {what} files in this load"
                )
            layout = positions
            body = parsed.records
            n = body.num_rows
            body = body.add_column(0, "source_file", pa.array([str(path)] * n, pa.string()))
            tables.append(body.add_column(2, "partition_key", pa.array([key] * n, pa.string())))
    empty = pa.schema(
        [("source_file", pa.string()), RECORDS_SCHEMA.field("line_number"), ("partition_key", pa.string())]
        + [RECORDS_SCHEMA.field(name) for name in ("line", "fields", "problem")]
    ).empty_table()

    return (pa.concat_tables(tables) if tables else empty), (
        layout or {c: i + 1 for i, c in enumerate(expected)}
    )


def _run(
    partitions: Sequence[tuple[str, list[Path]]],
    known_orgs: pa.Table | None,
    judge: Sequence[str],
    accept: str,
    schema: pa.Schema,
    lines: pa.Table,
) -> ParsedBatch:
    """Judge the lines in one SQL pass, then split clean rows, quarantined lines and per-partition counts."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("_lines", lines)
        con.register("_known_orgs", known_orgs if known_orgs is not None else KNOWN_ORGS_SCHEMA.empty_table())
        for statement in judge:
            con.execute(statement, {"guid": GUID} if "$guid" in statement else None)
        clean = con.sql(accept).to_arrow_table().select(schema.names).cast(schema)
        quarantine = (
            con.sql(
                "SELECT partition_key, source_file, line_number, line AS raw_line, reason FROM _judged "
                "WHERE reason <> '' ORDER BY source_file, line_number"
            )
            .to_arrow_table()
            .cast(QUARANTINE_SCHEMA)
        )
        con.register("_keys", pa.table({"partition_key": pa.array([k for k, _ in partitions], pa.string())}))
        counts = con.sql(
            """
            SELECT k.partition_key, count(j.line_number) AS lines_read,
                   count(j.line_number) FILTER (j.reason = '') AS lines_clean,
                   count(j.line_number) FILTER (j.reason <> '') AS lines_quarantined,
                   count(j.line_number) FILTER (j.reason = '') AS rows_written
            FROM _keys k LEFT JOIN _judged j USING (partition_key) GROUP BY k.partition_key ORDER BY k.partition_key
            """
        ).to_arrow_table()
        return ParsedBatch(clean=clean, quarantine=quarantine, counts=counts)
    finally:
        con.close()


def parse_fullbas(
    partitions: Sequence[tuple[str, list[Path]]], known_orgs: pa.Table | None = None
) -> ParsedBatch:
    """Full BAS runs of many UTC days: typed, Sydney wall clock, lower-case ids, `org_known` against `known_orgs`."""
    lines, p = _read(partitions, FULLBAS_COLUMNS, "fullbas")
    fields = ", ".join(
        _field(p, name, alias)
        for name, alias in [
            ("datestring", "date_txt"), ("timestring", "time_txt"), ("level", "level_txt"), ("userid", "user_txt"),
            ("orgid", "org_txt"), ("reportname", "report_txt"), ("versioncode", "version_txt"),
            ("countrycode", "country_txt"), ("runtime", "runtime_txt"),
        ]
    )  # fmt: skip
    judge = [_judge_sql(len(FULLBAS_COLUMNS), fields, _FULLBAS_TYPED, _FULLBAS_RULES,
                        "lower(user_txt), lower(org_txt), run_at_utc")]  # fmt: skip
    accept = f"""
        SELECT run_at_utc::DATE AS run_date, run_at_utc, timezone('{SYDNEY}', run_at_utc) AS run_at_local,
               level_txt AS level, lower(user_txt) AS user_id, lower(org_txt) AS org_id, report_txt AS report_name,
               version_txt AS version_code, country_txt AS country_code, runtime_value AS runtime_seconds,
               lower(org_txt) IN (SELECT org_id FROM _known_orgs) AS org_known, source_file
        FROM _judged WHERE reason = '' ORDER BY run_at_utc, user_id, org_id
    """
    return _run(partitions, known_orgs, judge, accept, FULLBAS_SCHEMA, lines)


def parse_simplebas(
    partitions: Sequence[tuple[str, list[Path]]], known_orgs: pa.Table | None = None
) -> ParsedBatch:
    """Simple BAS runs of many UTC days: typed, Sydney wall clock, org_id resolved from `known_orgs` by shortcode."""
    lines, p = _read(partitions, SIMPLEBAS_COLUMNS, "simplebas")
    fields = ", ".join(
        _field(p, name, alias)
        for name, alias in [
            ("userid", "user_txt"), ("shortcode", "shortcode_txt"), ("statementyear", "year_txt"),
            ("statementmonth", "month_txt"), ("datetime", "datetime_txt"),
        ]
    )  # fmt: skip
    judge = [_judge_sql(len(SIMPLEBAS_COLUMNS), fields, _SIMPLEBAS_TYPED, _SIMPLEBAS_RULES,
                        "lower(user_txt), shortcode_txt, statement_year, statement_month, run_at_utc")]  # fmt: skip
    accept = f"""
        SELECT run_at_utc::DATE AS run_date, run_at_utc, timezone('{SYDNEY}', run_at_utc) AS run_at_local,
               lower(user_txt) AS user_id, shortcode_txt AS shortcode, statement_year, statement_month,
               k.org_id, k.org_id IS NOT NULL AS org_known, source_file
        FROM _judged j LEFT JOIN (SELECT shortcode, any_value(org_id) AS org_id FROM _known_orgs GROUP BY shortcode) k
             ON k.shortcode = j.shortcode_txt
        WHERE reason = '' ORDER BY run_at_utc, user_id, shortcode
    """
    return _run(partitions, known_orgs, judge, accept, SIMPLEBAS_SCHEMA, lines)


_ORG_TEXT = {
    "shortcode": "shortcode", "organisationstatus": "organisation_status", "productoption": "product_option",
    "saleschannel": "sales_channel", "channeltype": "channel_type", "salestaxbasis": "sales_tax_basis",
    "salestaxperiod": "sales_tax_period", "salestaxtype": "sales_tax_type", "incometaxbasis": "income_tax_basis",
    "provisionaltaxbasis": "provisional_tax_basis", "marketcode": "market_code",
}  # fmt: skip
_ORG_TIMES = {
    "createddateutc": "created_at_utc",
    "signupdateutc": "signup_at_utc",
    "deleteddateutc": "deleted_at_utc",
}
_ORG_FLAGS = {"managedbypracticeflag": "managed_by_practice", "payingflag": "paying", "trialflag": "trial"}
_ORG_COUNTS = {
    "shardid": "shard_id", "nonpracticestaffusers": "non_practice_staff_users",
    "practicestaffusers": "practice_staff_users",
}  # fmt: skip


def _orgcard_sql(p: dict[str, int]) -> tuple[str, str, str, str]:
    """Fields (the string `None` is a missing value), typed values, rules and the clean select of the card."""

    def value(name: str) -> str:  # empty or the literal `None`: missing (NULL)
        return f"nullif(nullif(trim(f[{p[name]}]), ''), 'None')"

    fields = ", ".join(
        [f"{value('organisationid')} AS org_txt"]
        + [f"{value(c)} AS {c}_txt" for c in [*_ORG_TEXT, *_ORG_TIMES, *_ORG_FLAGS, *_ORG_COUNTS]]
    )
    typed = ", ".join(
        [f"TRY_CAST({c}_txt AS TIMESTAMP) AS {c}_value" for c in _ORG_TIMES]
        + [
            f"CASE WHEN regexp_full_match({c}_txt, '\\d+') THEN TRY_CAST({c}_txt AS INTEGER) END AS {c}_value"
            for c in _ORG_COUNTS
        ]  # fmt: skip
    )
    rules = ",\n".join(
        [
            "CASE WHEN n_ok AND org_txt IS NULL THEN 'missing organisationid' END",
            "CASE WHEN n_ok AND NOT regexp_full_match(org_txt, $guid) "
            "THEN format('malformed organisationid ''{}''', org_txt) END",
            "CASE WHEN n_ok AND shortcode_txt IS NULL THEN 'missing shortcode' END",
            "CASE WHEN n_ok AND regexp_matches(shortcode_txt, '\\s') "
            "THEN format('malformed shortcode ''{}''', shortcode_txt) END",
            "CASE WHEN n_ok AND organisationstatus_txt IS NULL THEN 'missing organisationstatus' END",
            "CASE WHEN n_ok AND organisationstatus_txt NOT IN ('Active', 'Deleted', 'Suspended') "
            "THEN format('unknown organisationstatus ''{}''', organisationstatus_txt) END",
        ]
        + [
            f"CASE WHEN {c}_txt IS NOT NULL AND {c}_value IS NULL THEN format('malformed {c} ''{{}}''', {c}_txt) END"
            for c in [*_ORG_TIMES, *_ORG_COUNTS]
        ]
        + [
            f"CASE WHEN {c}_txt IS NOT NULL AND {c}_txt NOT IN ('0', '1') "
            f"THEN format('{c} must be 0 or 1, got ''{{}}''', {c}_txt) END"
            for c in _ORG_FLAGS
        ]
    )
    select = ", ".join(
        ["lower(org_txt) AS org_id"]
        + [f"{c}_txt AS {alias}" for c, alias in _ORG_TEXT.items()]
        + [f"{c}_value AS {alias}" for c, alias in {**_ORG_TIMES, **_ORG_COUNTS}.items()]
        + [f"({c}_txt = '1') AS {alias}" for c, alias in _ORG_FLAGS.items()]
        + ["source_file"]
    )
    return fields, typed, rules, select


def parse_orgcard(partitions: Sequence[tuple[str, list[Path]]]) -> ParsedBatch:
    """The organisation card as one snapshot partition; a repeated organisationid or shortcode is quarantined."""
    lines, p = _read(partitions, ORGCARD_COLUMNS, "orgcard")
    fields, typed, rules, select = _orgcard_sql(p)
    # a second pass flags a shortcode already taken by an earlier clean line (the Simple BAS join key)
    shortcodes = """
    CREATE OR REPLACE TEMP TABLE _judged AS
    SELECT * REPLACE (CASE WHEN reason = '' AND code_rank > 1 THEN format('duplicate shortcode of line {}', code_first)
                           ELSE reason END AS reason)
    FROM (SELECT *, CASE WHEN reason = '' THEN row_number() OVER code END AS code_rank,
                    CASE WHEN reason = '' THEN first_value(line_number) OVER code END AS code_first
          FROM _judged WINDOW code AS (PARTITION BY reason = '', shortcode_txt ORDER BY source_file, line_number))
    """
    judge = [_judge_sql(len(ORGCARD_COLUMNS), fields, typed, rules, "lower(org_txt)"), shortcodes]
    accept = f"SELECT {select} FROM _judged WHERE reason = '' ORDER BY org_id"
    return _run(partitions, None, judge, accept, ORGANISATIONS_SCHEMA, lines)


def known_orgs(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """org_id and shortcode of every organisation on the current card (clean.organisations)."""
    return (
        con.sql("SELECT org_id, shortcode FROM clean.organisations").to_arrow_table().cast(KNOWN_ORGS_SCHEMA)
    )


def refresh_org_links(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Re-resolve loaded runs against the current card: Full BAS `org_known`, Simple BAS `org_id` and `org_known`.

    Runs load with the card as it was at their ingest; a new card would otherwise leave old days stale.
    Returns how many runs changed per table. Call inside the card's write (or its own) transaction.
    """
    full = con.execute(
        """
        UPDATE clean.fullbas_runs r SET org_known = k.org_id IS NOT NULL
        FROM (SELECT DISTINCT f.org_id AS run_org, o.org_id FROM clean.fullbas_runs f
              LEFT JOIN clean.organisations o USING (org_id)) k
        WHERE k.run_org = r.org_id AND r.org_known IS DISTINCT FROM (k.org_id IS NOT NULL)
        """
    ).fetchall()[0][0]
    simple = con.execute(
        """
        UPDATE clean.simplebas_runs r SET org_id = k.org_id, org_known = k.org_id IS NOT NULL
        FROM (SELECT DISTINCT s.shortcode, o.org_id FROM clean.simplebas_runs s
              LEFT JOIN clean.organisations o USING (shortcode)) k
        WHERE k.shortcode = r.shortcode AND r.org_id IS DISTINCT FROM k.org_id
        """
    ).fetchall()[0][0]
    return {"clean.fullbas_runs": int(full), "clean.simplebas_runs": int(simple)}
