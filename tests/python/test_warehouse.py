"""Recovery from an interrupted run: a table folder that no table owns (a CTAS killed before Spark
registered the table) blocks every later CREATE TABLE of that name until it is removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segmentation.warehouse import PROJECT_SCHEMAS, recover_interrupted_run, remove_orphaned_table_folders

SCHEMA = "recovery_check"


def _table_folder(spark, name: str) -> Path:
    return Path(spark.catalog.getDatabase(SCHEMA).locationUri.removeprefix("file:")) / name


def test_half_written_folder_blocks_create_table_until_removed(spark):
    spark.sql(f"drop database if exists {SCHEMA} cascade")
    spark.sql(f"create database {SCHEMA}")
    try:
        spark.sql(f"create table {SCHEMA}.kept using parquet as select 1 as id")
        spark.sql(f"create view {SCHEMA}.a_view as select 1 as id")
        # What a killed CTAS leaves: task output under _temporary, no _SUCCESS, no table in the metastore.
        half_written = _table_folder(spark, "half_written")
        (half_written / "_temporary" / "0").mkdir(parents=True)
        (half_written / "_temporary" / "0" / "part-00000.parquet").write_bytes(b"partial")
        # A complete table folder another metastore owns (same warehouse): data, never deleted.
        foreign = _table_folder(spark, "foreign_table")
        spark.range(3).write.parquet(str(foreign))
        assert (foreign / "_SUCCESS").is_file()
        staging = _table_folder(spark, "_ingest_tmp")  # Spark/Hadoop staging names are not table folders
        staging.mkdir()

        with pytest.raises(Exception, match="LOCATION_ALREADY_EXISTS"):
            spark.sql(f"create table {SCHEMA}.half_written using parquet as select 2 as id")

        found = remove_orphaned_table_folders(spark, (SCHEMA, "no_such_schema"))

        assert [path.rsplit("/", 1)[-1] for path in found.removed] == ["half_written"]
        assert [path.rsplit("/", 1)[-1] for path in found.kept] == ["foreign_table"]
        assert not half_written.exists() and staging.is_dir()
        assert spark.read.parquet(str(foreign)).count() == 3
        assert spark.table(f"{SCHEMA}.kept").collect()[0]["id"] == 1  # an owned folder is untouched
        spark.sql(f"create table {SCHEMA}.half_written using parquet as select 2 as id")
        assert spark.table(f"{SCHEMA}.half_written").collect()[0]["id"] == 2
        assert remove_orphaned_table_folders(spark, (SCHEMA,)).removed == []  # nothing left to remove
    finally:
        spark.sql(f"drop database if exists {SCHEMA} cascade")


def test_recovery_covers_every_schema_the_pipeline_writes(settings, pipeline_run, spark):
    """PROJECT_SCHEMAS must name each schema the project writes, or a folder there would never be recovered:
    every model's and seed's schema, the sources' (raw, ml) and each swap_table model's versions schema."""
    manifest = json.loads((settings.target_dir / "manifest.json").read_text())
    built = [node for node in manifest["nodes"].values() if node["resource_type"] in {"model", "seed"}]
    written = {node["schema"] for node in built} | {source["schema"] for source in manifest["sources"].values()}
    written |= {  # as swap_table.sql names it: config versions_schema, else internal_versions
        node["config"].get("versions_schema") or "internal_versions"
        for node in built
        if node["config"]["materialized"] == "swap_table"
    }
    assert {"raw", "staging", "intermediate", "marts", "ml"} <= written
    assert written <= set(PROJECT_SCHEMAS)
    said: list[str] = []
    from segmentation.lock import writer_lock

    with writer_lock(settings.run_dir, "test"):
        found = recover_interrupted_run(spark, settings, said.append)
    assert found.removed == found.kept == [] and said == []  # a clean run leaves nothing unowned
