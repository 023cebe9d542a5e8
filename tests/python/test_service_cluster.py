"""A real Spark standalone cluster (master + 2 workers on 127.0.0.1): a job reaches it through the
project's configuration alone (SEGMENTATION_SPARK_MASTER), never through a hard-coded master."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segmentation.service._proc import process_matches
from segmentation.service.cluster import WORKER_CLASS, running_cluster
from service_helpers import remove_home, service_home

pytestmark = pytest.mark.slow
PROJECT_DIR = Path(__file__).resolve().parents[2]

# Runs in its own process: pytest's process already holds a local SparkContext.
JOB = """
import json
from segmentation.config import Settings
from segmentation.spark import build_session

settings = Settings.from_env(extra_spark_conf={"spark.ui.enabled": "false"})
spark = build_session(settings, "segmentation-cluster-probe")
sc = spark.sparkContext
df = spark.range(0, 200_000, numPartitions=8).selectExpr("id % 10 as g", "id")
rows = df.groupBy("g").sum("id").orderBy("g").collect()
hosts = sorted(set(sc.parallelize(range(8), 8).map(lambda _: __import__("os").getpid()).collect()))
print("RESULT " + json.dumps({
    "master": sc.master,
    "executors": sc._jsc.sc().getExecutorMemoryStatus().size() - 1,
    "executor_pids": len(hosts),
    "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
    "sums": [[int(r[0]), int(r[1])] for r in rows],
}))
spark.stop()
"""


def test_job_runs_on_standalone_cluster_from_configuration():
    home = service_home("seg_cluster_")
    try:
        with running_cluster(home / "cluster", workers=2, cores=1, memory="2g") as cluster:
            assert cluster.master_url.startswith("spark://127.0.0.1:")
            assert cluster.alive_workers() == 2
            env = {**os.environ, "SEGMENTATION_SPARK_MASTER": cluster.master_url,
                   "SEGMENTATION_HOME": str(home / "warehouse"), "SEGMENTATION_PROJECT_DIR": str(PROJECT_DIR),
                   "SEGMENTATION_EXECUTOR_MEMORY": "1g", "SEGMENTATION_DRIVER_MEMORY": "1g",
                   "SEGMENTATION_SHUFFLE_PARTITIONS": "3", "SPARK_LOCAL_IP": "127.0.0.1"}
            done = subprocess.run([sys.executable, "-c", JOB], env=env, capture_output=True, text=True,
                                  timeout=420)
            assert done.returncode == 0, done.stderr[-2000:]
            line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
            result = json.loads(line.removeprefix("RESULT "))
            state = cluster.state()
            pids = list(cluster.pids)
        assert result["master"] == cluster.master_url
        assert result["executors"] == 2 and result["executor_pids"] == 2  # one executor JVM per worker
        assert result["shuffle_partitions"] == "3"
        expected = [[g, sum(range(g, 200_000, 10))] for g in range(10)]
        assert result["sums"] == expected
        assert any(app["name"] == "segmentation-cluster-probe" for app in state.get("completedapps", []))
        # The context manager stopped every process it started.
        assert not any(process_matches(pid, WORKER_CLASS) for pid in pids)
    finally:
        remove_home(home)
