"""End to end: one `segmentation run` on the bundled sample (generated data with every quirk), shared by
every test here through the session-scoped `pipeline_run` fixture (conftest.py)."""

from __future__ import annotations

import json
import os


def test_row_fates_add_up_to_raw_rows(spark, pipeline_run):
    raw = spark.table("raw.transactions").count()
    fates = pipeline_run.row_fates
    assert raw > 0
    assert sum(fates.values()) == raw
    assert fates.get("rejected", 0) > 0, "the bundled sample carries rows that fail each reject reason"
    rejected = spark.table("marts.rejected_lines")
    assert rejected.count() == fates["rejected"]
    reasons = {r[0] for r in rejected.select("reject_reason").distinct().collect()}
    assert reasons == {"missing_invoice_no", "missing_stock_code", "bad_quantity", "bad_invoice_date", "bad_unit_price"}


def test_marts_join_the_clusters(spark, pipeline_run):
    dim = spark.table("marts.dim_customers")
    assert dim.count() == spark.table("marts.customer_rfm").count() == pipeline_run.customers
    clustered = dim.where("monetary > 0")
    assert clustered.where("cluster_id is null").count() == 0
    assert dim.where("monetary <= 0 and cluster_name != 'Unclustered'").count() == 0
    names = {r[0] for r in clustered.select("cluster_name").distinct().collect()}
    assert names == {"VIP", "Potential", "New", "Churned"}
    kinds = {r[0] for r in spark.table("marts.segment_summary").select("segment_kind").distinct().collect()}
    assert kinds == {"rfm_segment", "cluster"}


def test_ml_tables_carry_the_run_id(spark, pipeline_run):
    run_id = pipeline_run.clustering["run_id"]
    runs = spark.table("ml.model_runs").where(f"run_id = '{run_id}'").collect()
    assert len(runs) == 1 and runs[0]["k"] == 4
    assert spark.table("ml.customer_clusters").where(f"run_id != '{run_id}'").count() == 0
    assert spark.table("ml.cluster_centroids").where(f"run_id = '{run_id}'").count() == 4
    assert spark.table("ml.k_sweep").where(f"run_id = '{run_id}'").count() == 9


def test_revenue_reconciles_between_lines_and_customers(spark, pipeline_run):
    lines = spark.sql(
        "select sum(net_revenue) from marts.fct_order_lines where customer_id is not null and is_in_matching_scope"
    ).first()[0]
    customers = spark.sql("select sum(monetary), count(*) from marts.customer_rfm").first()
    assert abs(float(lines) - float(customers[0])) <= 0.005 * customers[1]
    # What the run reported, against the line mart (not the table the figure was read from).
    assert abs(float(lines) - pipeline_run.total_monetary) <= 0.005 * customers[1]


def test_shuffle_partitions_sized_from_the_input_reach_dbt(spark, pipeline_run):
    from segmentation.config import MIN_SHUFFLE_PARTITIONS, shuffle_partitions_for

    assert shuffle_partitions_for(spark.table("raw.transactions").count()) == MIN_SHUFFLE_PARTITIONS == 8
    # Read back from the session after dbt's statements: had the sized count not reached profiles.yml,
    # dbt would have applied the environment's 4 (conftest), and the environment is left as it was.
    assert pipeline_run.shuffle_partitions == 8
    assert os.environ["SEGMENTATION_SHUFFLE_PARTITIONS"] == "4"


def test_shuffle_partitions_grow_with_the_input(monkeypatch):
    from segmentation.config import Settings, shuffle_partitions_for

    assert [shuffle_partitions_for(n) for n in (0, 1_000, 8_000_000, 8_000_001, 50_000_000)] == [8, 8, 8, 9, 50]
    monkeypatch.delenv("SEGMENTATION_SHUFFLE_PARTITIONS", raising=False)
    unset = Settings.from_env()
    assert unset.shuffle_partitions is None  # the pipeline sizes it after ingest
    assert unset.spark_conf()["spark.sql.shuffle.partitions"] == "8"  # other commands, until then
    monkeypatch.setenv("SEGMENTATION_SHUFFLE_PARTITIONS", "12")
    assert Settings.from_env().shuffle_partitions == 12  # an explicit count always wins


def test_summary_json_written(settings, pipeline_run):
    summary = json.loads((settings.target_dir / "run_summary.json").read_text())
    assert summary["customers"] == pipeline_run.customers
    assert list(summary["timings_seconds"]) == [
        "ingest", "dbt run (to customer_rfm)", "train clusters", "customer lifetime value",
        "dbt run (cluster marts)", "dbt test", "total"
    ]


def test_data_tests_after_runs_every_test_once_after_the_models(settings, pipeline_run):
    """`--data-tests after`: the two model builds ran no test, the final `dbt test` ran all of them."""
    manifest = json.loads((settings.target_dir / "manifest.json").read_text())
    declared = [*manifest["nodes"], *manifest["unit_tests"]]
    tests = {uid for uid in declared if uid.startswith(("test.", "unit_test."))}
    ran = {uid for uid in pipeline_run.dbt_node_seconds if uid.startswith(("test.", "unit_test."))}
    models = {uid for uid in pipeline_run.dbt_node_seconds if uid.startswith("model.")}
    assert len(tests) > 100 and ran == tests
    assert models == {uid for uid in manifest["nodes"] if uid.startswith("model.")}


def test_tables_queryable_with_dbt_show(settings, pipeline_run):
    from segmentation.dbt import run_dbt

    step = run_dbt(
        settings, ["show", "--inline", "select rfm_segment, count(*) as n from marts.customer_rfm group by 1"]
    )
    assert step.success


def test_docs_generate_catalogs_the_marts(settings, pipeline_run):
    """`dbt docs generate` works against the built warehouse and documents the marts and their columns."""
    from segmentation.dbt import run_dbt

    assert run_dbt(settings, ["docs", "generate"]).success
    catalog = json.loads((settings.target_dir / "catalog.json").read_text())
    manifest = json.loads((settings.target_dir / "manifest.json").read_text())
    rfm_id = "model.segmentation.customer_rfm"
    assert rfm_id in catalog["nodes"], sorted(catalog["nodes"])[:10]
    assert {"recency_days", "frequency", "monetary", "rfm_segment"} <= set(catalog["nodes"][rfm_id]["columns"])
    # Every column of every built model (as the warehouse reports it) is described in the model's YAML.
    undocumented = [
        f"{node['name']}.{column}"
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and unique_id in catalog["nodes"]
        for column in catalog["nodes"][unique_id]["columns"]
        if not node["columns"].get(column, {}).get("description")
    ]
    assert undocumented == []
    assert all(n["description"] for n in manifest["nodes"].values() if n["resource_type"] == "model")


def test_hand_written_floor_builds_the_same_tables(spark, pipeline_run):
    """The benchmark's floor (bench/floor.py, PySpark without dbt) implements every table independently;
    on the bundled sample (rejects, duplicates, cancellations, zero prices, missing customers) all 15 of
    them must hold the same data as the pipeline's: row counts, exact sums and row hashes
    (bench/tables.py). A difference means one of the two strays from SPEC.md."""
    from conftest import PROJECT_DIR, floor_table_differences
    from segmentation.pipeline import DEFAULT_SAMPLE

    ours, differing = floor_table_differences(
        spark, [str(PROJECT_DIR / DEFAULT_SAMPLE)], pipeline_run.clustering["run_id"], "floor_sample_"
    )
    assert differing == {}
    assert int(ours["rejected_lines"]["rows"]) > 0 and int(ours["fct_order_lines"]["rows"]) > 0


def test_ml_inputs_are_fresh_after_a_run_and_stale_after_a_new_ingest(spark, pipeline_run):
    from segmentation.freshness import stale_ml_inputs, staleness, version_stamp
    from segmentation.ingest import writer

    raw_stamp = writer.current_version(spark).rsplit("__v", 1)[1]
    mart_stamp = version_stamp(spark, "marts.customer_rfm")
    assert mart_stamp is not None and mart_stamp > raw_stamp  # built after the ingest it read
    assert stale_ml_inputs(spark) is None
    # `segmentation score` after `segmentation ingest new.csv`: the raw version is the newer one.
    later = staleness(f"{int(mart_stamp) + 1:020d}", mart_stamp)
    assert later is not None and "is newer than marts.customer_rfm" in later
    assert staleness(raw_stamp, None) == "marts.customer_rfm has not been built from raw.transactions yet"
