"""SQL the BAS assets run for their checks."""

from revcast.warehouse import column_name, table_name

# runs of org ids (param: the list of org ids) that are not Active, paying organisations on the card
RUNS_OUTSIDE_SCOPE = """
SELECT count(*) FROM (SELECT unnest(?) AS org_id) r LEFT JOIN clean.organisations o USING (org_id)
WHERE o.org_id IS NULL OR o.organisation_status <> 'Active' OR NOT coalesce(o.paying, FALSE)
"""


def unknown_orgs_sql(table: str, key: str, where: str) -> str:
    """Runs, runs of organisations not on the card, and how many such organisations (by `key`), in `where`.

    `where` is a filter written by our own code (the partition window), with its parameters bound by the caller.
    """
    key = column_name(key)
    return (
        f"SELECT count(*), count(*) FILTER (NOT org_known), count(DISTINCT {key}) FILTER (NOT org_known) "
        f"FROM {table_name(table)} WHERE {where}"
    )
