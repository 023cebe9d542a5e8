"""Publish the local target's marts to the Thrift server (`segmentation thrift publish`, and `thrift start`
when the server has no marts yet).

The local target (`make run`) keeps an embedded Derby catalog that only one JVM can open, and the Thrift
server keeps its own PostgreSQL catalog in `<home>/service`: two catalogs over one warehouse folder would
each claim the other's table folders. So the local marts and ml tables are copied, not shared:
1. a Spark session on the local catalog writes each of them as Parquet into the server's warehouse
   (`internal_versions.db/_published_<UTC>/<schema>.<table>`: a leading underscore, so the
   warehouse recovery never takes it for an interrupted write), holding the local writer lock;
2. through the server, each copy becomes a table `internal_versions.published__<schema>__<table>__v<UTC>`
   with the local columns' comments, and `marts.<table>` a view onto it (repointed in one call when it
   exists), with the local view's description; the ml
   tables are filled with `insert overwrite` (they stay tables, so the ML step of a later
   `run --target thrift` can write them);
3. older published copies are dropped.
BI clients see either the previous marts or the published ones, never a half-copied table.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from segmentation.config import Settings
from segmentation.errors import SegmentationError

PUBLISHED_SCHEMAS = ("marts", "ml")
VERSIONS_SCHEMA = "internal_versions"
KEEP_PUBLISHED = 2


@dataclass
class Exported:
    schema: str
    name: str
    folder: Path
    columns: list[tuple[str, str, str | None]]  # name, type, comment
    comment: str | None


@dataclass
class PublishResult:
    tables: list[str] = field(default_factory=list)
    skipped: str | None = None

    def describe(self) -> str:
        if self.skipped:
            return self.skipped
        return f"published {len(self.tables)} tables of the local warehouse to the Thrift server: " + ", ".join(
            self.tables
        )


def local_marts_exist(settings: Settings) -> bool:
    return settings.for_target("local").derby_dir.is_dir()


def export_local(settings: Settings, stamp: str) -> list[Exported]:
    """Step 1, in this process: copy the local marts and ml tables into the server's warehouse."""
    from segmentation.lock import command_line, writer_lock
    from segmentation.spark import build_session

    local = settings.for_target("local")
    target_root = settings.for_target("thrift").warehouse_dir / f"{VERSIONS_SCHEMA}.db" / f"_published_{stamp}"
    exported: list[Exported] = []
    with writer_lock(local.run_dir, command_line()):
        spark = build_session(local, "segmentation-publish")
        try:
            for schema in PUBLISHED_SCHEMAS:
                if not spark.catalog.databaseExists(schema):
                    continue
                for table in spark.catalog.listTables(schema):
                    if table.isTemporary:
                        continue
                    folder = target_root / f"{schema}.{table.name}"
                    frame = spark.table(f"{schema}.{table.name}")
                    frame.write.parquet(str(folder))
                    comments = {c.name: c.description for c in spark.catalog.listColumns(f"{schema}.{table.name}")}
                    columns = [(f.name, f.dataType.simpleString(), comments.get(f.name)) for f in frame.schema.fields]
                    exported.append(Exported(schema, table.name, folder, columns, table.description))
        finally:
            spark.stop()
    return exported


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def register(server, exported: list[Exported], stamp: str) -> list[str]:  # noqa: ANN001 - a ThriftServer
    """Steps 2 and 3, through the server."""
    conn = server.connect()
    done: list[str] = []
    try:
        cursor = conn.cursor()

        def run(sql: str) -> list:
            cursor.execute(sql)
            try:
                return cursor.fetchall()
            except Exception:  # noqa: BLE001 - statements without a result set
                return []

        run(f"create database if not exists {VERSIONS_SCHEMA}")
        for item in exported:
            run(f"create database if not exists {item.schema}")
            copy = f"{VERSIONS_SCHEMA}.published__{item.schema}__{item.name}__v{stamp}"
            # Column comments on the copy: a view over `select *` shows its source's comments.
            ddl = ", ".join(f"`{name}` {dtype}" + (f" comment {_literal(comment[:255])}" if comment else "")
                            for name, dtype, comment in item.columns)
            run(f"create table {copy} ({ddl}) using parquet location {_literal(str(item.folder))}")
            if item.schema == "ml":
                plain = ", ".join(f"`{name}` {dtype}" for name, dtype, _ in item.columns)
                run(f"create table if not exists ml.{item.name} ({plain}) using parquet")
                run(f"insert overwrite table ml.{item.name} select * from {copy}")
            else:
                _point_view(run, f"{item.schema}.{item.name}", copy, item.comment)
            done.append(f"{item.schema}.{item.name}")
        _drop_older_copies(run, stamp)
    finally:
        conn.close()
    return done


def _point_view(run, view: str, copy: str, comment: str | None) -> None:  # noqa: ANN001 - the runner
    """The public view onto the copy. An existing view is repointed in one metastore call (ALTER VIEW ... AS;
    CREATE OR REPLACE VIEW would drop it first, and a BI query in between would not find it)."""
    schema, name = view.split(".")
    existing = {row[1] for row in run(f"show tables in {schema} like '{name}'")}
    views = {row[1] for row in run(f"show views in {schema} like '{name}'")}
    if name in views:
        run(f"alter view {view} as select * from {copy}")
        if comment:
            run(f"alter view {view} set tblproperties ('comment' = {_literal(comment[:3900])})")
        return
    if name in existing:
        run(f"drop table {view}")  # a table left by an older layout: replaced once, not atomically
    clause = f" comment {_literal(comment[:3900])}" if comment else ""
    run(f"create view {view}{clause} as select * from {copy}")


def _drop_older_copies(run, stamp: str) -> None:  # noqa: ANN001 - the statement runner
    copies = [row[1] for row in run(f"show tables in {VERSIONS_SCHEMA} like 'published__*'")]
    stamps = sorted({name.rsplit("__v", 1)[1] for name in copies}, reverse=True)
    for old in stamps[KEEP_PUBLISHED:]:
        for name in copies:
            if name.endswith(f"__v{old}"):
                run(f"drop table if exists {VERSIONS_SCHEMA}.{name}")


def remove_old_folders(settings: Settings, keep: int = KEEP_PUBLISHED) -> None:
    root = settings.for_target("thrift").warehouse_dir / f"{VERSIONS_SCHEMA}.db"
    folders = sorted(root.glob("_published_*"), reverse=True)
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)


def serves_marts(server) -> bool:  # noqa: ANN001 - a ThriftServer
    from segmentation.service.thrift import fetch

    if not fetch(server, "show databases like 'marts'"):
        return False
    return bool(fetch(server, "show tables in marts"))


def publish(settings: Settings, server) -> PublishResult:  # noqa: ANN001 - a ThriftServer
    if not local_marts_exist(settings):
        raise SegmentationError(
            f"no local warehouse at {settings.home} to publish; run `segmentation run` (or `make run`) first"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    exported = export_local(settings, stamp)
    if not exported:
        raise SegmentationError(f"the local warehouse at {settings.home} has no marts yet; run `segmentation run`")
    tables = register(server, exported, stamp)
    remove_old_folders(settings)
    return PublishResult(tables=tables)
