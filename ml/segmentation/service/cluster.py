"""A Spark standalone cluster on this machine (one master, N workers, all on 127.0.0.1), started from the
pip-installed pyspark's `spark-class`, for tests and for trying the pipeline on a real cluster.

The pipeline never assumes local[*]: point it at the cluster with SEGMENTATION_SPARK_MASTER or --master.
Driver and executors run on this machine, so the warehouse folder is a local path both can reach, and
the metastore (Derby or PostgreSQL) is only ever opened by the driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from segmentation.service._proc import free_port, launch, spark_env, spark_home, terminate, wait_until

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


@dataclass
class StandaloneCluster:
    master_url: str
    web_url: str
    run_dir: Path
    pids: list[int] = field(default_factory=list)

    def state(self) -> dict:
        """The master's own JSON view: workers, cores, running applications."""
        with urllib.request.urlopen(f"{self.web_url}/json/", timeout=5) as response:
            return json.loads(response.read())

    def alive_workers(self) -> int:
        try:
            return sum(1 for w in self.state().get("workers", []) if w.get("state") == "ALIVE")
        except OSError:
            return 0

    def stop(self) -> None:
        # Workers first, so the master does not log them as lost; only the pids started here.
        for pid in reversed(self.pids):
            terminate(pid, timeout=20)
        self.pids.clear()


def start_cluster(run_dir: Path, workers: int = 2, cores: int = 1, memory: str = "2g",
                  timeout: float = 120.0) -> StandaloneCluster:
    """Start a master and `workers` workers on 127.0.0.1 with free ports; logs and work dirs in run_dir."""
    run_dir.mkdir(parents=True, exist_ok=True)
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = spark_env(SPARK_LOG_DIR=str(run_dir), SPARK_WORKER_DIR=str(run_dir / "work"))
    port, web_port = free_port(), free_port()
    cluster = StandaloneCluster(master_url=f"spark://127.0.0.1:{port}", web_url=f"http://127.0.0.1:{web_port}",
                                run_dir=run_dir)
    try:
        master_log = run_dir / "master.log"
        master = launch([spark_class, MASTER_CLASS, "--host", "127.0.0.1", "--port", str(port),
                         "--webui-port", str(web_port)], master_log, env=env)
        cluster.pids.append(master.pid)
        wait_until(lambda: _reachable(cluster), timeout,
                   "Spark master", master_log, alive=lambda: master.poll() is None)
        for index in range(workers):
            worker_log = run_dir / f"worker-{index}.log"
            worker = launch([spark_class, WORKER_CLASS, "--host", "127.0.0.1", "--port", str(free_port()),
                             "--webui-port", str(free_port()), "--cores", str(cores), "--memory", memory,
                             "--work-dir", str(run_dir / f"work-{index}"), cluster.master_url],
                            worker_log, env=env)
            cluster.pids.append(worker.pid)
        wait_until(lambda: cluster.alive_workers() >= workers, timeout, f"{workers} Spark workers",
                   run_dir / "worker-0.log")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _reachable(cluster: StandaloneCluster) -> bool:
    try:
        cluster.state()
        return True
    except OSError:
        return False


@contextmanager
def running_cluster(run_dir: Path, workers: int = 2, cores: int = 1,
                    memory: str = "2g") -> Iterator[StandaloneCluster]:
    """A started cluster that is stopped even when the body fails."""
    cluster = start_cluster(run_dir, workers=workers, cores=cores, memory=memory)
    try:
        yield cluster
    finally:
        cluster.stop()


def run_pipeline_subprocess(master: str, home: Path, args: Sequence[str] = (),
                            extra_env: dict[str, str] | None = None,
                            timeout: float = 1800.0) -> subprocess.CompletedProcess:
    """`segmentation run <args>` in a fresh process on the given master and warehouse folder (a second
    SparkContext cannot live in a process that already has one, e.g. pytest's)."""
    env = spark_env(SEGMENTATION_SPARK_MASTER=master, SEGMENTATION_HOME=str(home))
    env.update(extra_env or {})
    # The console script installed beside this interpreter (the venv's `segmentation`).
    command = [str(Path(sys.executable).parent / "segmentation"), "run", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=os.environ.get("SEGMENTATION_PROJECT_DIR") or None)
