"""A SQLAlchemy dialect for the Spark Thrift Server, as Superset uses it: `hive+spark://`.

PyHive's `hive://` dialect speaks the protocol well but reads Spark's catalog answers as Hive's:
Spark's SHOW TABLES returns (namespace, tableName, isTemporary), so PyHive lists the schema name once per
table, and it reports every table again as a view. This dialect keeps PyHive's connection and types and
lists what Spark really holds: tables (without views) and views apart, and each column with its comment
(the dbt descriptions, persisted to the warehouse).

The schema list leaves out `internal_versions` (the versioned tables behind the marts' views), and
`?schemas=marts,ml` in the URI narrows it further, so a table browser shows what analysts should query:

    hive+spark://segmentation:<password>@127.0.0.1:10000/marts?auth=CUSTOM&schemas=marts,ml

Registered as an entry point (pyproject.toml), so installing this package is all Superset needs.
"""

from __future__ import annotations

from typing import Any

from pyhive.sqlalchemy_hive import HiveDialect
from sqlalchemy import text

HIDDEN_SCHEMAS = ("internal_versions",)


class SparkThriftDialect(HiveDialect):
    name = "hive"
    driver = "spark"
    supports_statement_cache = False

    @classmethod
    def import_dbapi(cls):  # noqa: ANN206 - the DB-API module
        from pyhive import hive

        return hive

    def create_connect_args(self, url):  # noqa: ANN001, ANN201 - SQLAlchemy's signature
        query = dict(url.query)
        schemas = query.pop("schemas", None)
        self.visible_schemas = tuple(s.strip() for s in schemas.split(",")) if schemas else None
        return super().create_connect_args(url.set(query=query))

    def get_schema_names(self, connection, **kw: Any) -> list[str]:  # noqa: ANN001
        names = [row[0] for row in connection.execute(text("SHOW SCHEMAS"))]
        visible = getattr(self, "visible_schemas", None)
        return [n for n in names if n not in HIDDEN_SCHEMAS and (visible is None or n in visible)]

    def _names(self, connection, statement: str, schema: str | None) -> list[str]:  # noqa: ANN001
        if schema:
            statement += " IN " + self.identifier_preparer.quote_identifier(schema)
        # (namespace, name, isTemporary): the name is the second column; temporary views belong to a session.
        return [row[1] for row in connection.execute(text(statement)) if not row[2]]

    def get_view_names(self, connection, schema: str | None = None, **kw: Any) -> list[str]:  # noqa: ANN001
        return sorted(self._names(connection, "SHOW VIEWS", schema))

    def get_table_names(self, connection, schema: str | None = None, **kw: Any) -> list[str]:  # noqa: ANN001
        views = set(self.get_view_names(connection, schema))
        return sorted(n for n in self._names(connection, "SHOW TABLES", schema) if n not in views)

    def get_columns(self, connection, table_name: str, schema: str | None = None, **kw: Any) -> list[dict]:  # noqa: ANN001
        columns = super().get_columns(connection, table_name, schema, **kw)
        comments = {
            (row[0] or "").strip(): (row[2] or "").strip() or None
            for row in self._get_table_columns(connection, table_name, schema)
        }
        for column in columns:
            column["comment"] = comments.get(column["name"])
        return columns
