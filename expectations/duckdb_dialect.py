"""A DuckDB SQLAlchemy dialect that never begins, commits or rolls back: GX closes its connection (which
rolls back) before fetching a query's rows, and DuckDB drops the pending result on that rollback."""

from __future__ import annotations

import duckdb_engine
from sqlalchemy.dialects import registry

URL_SCHEME = "duckdb+autocommit"


class AutocommitDuckDBDialect(duckdb_engine.Dialect):
    driver = "autocommit"
    supports_statement_cache = True

    def do_begin(self, dbapi_connection) -> None:
        pass

    def do_rollback(self, dbapi_connection) -> None:
        pass

    def do_commit(self, dbapi_connection) -> None:
        pass


registry.register(URL_SCHEME.replace("+", "."), __name__, "AutocommitDuckDBDialect")
