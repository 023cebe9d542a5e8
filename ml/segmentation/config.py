"""Settings shared by every command: where the project and warehouse live, and how Spark is configured.

Everything comes from environment variables (or CLI flags that set them), so the same code runs on a
laptop, under spark-submit or against a standalone cluster. Nothing here assumes a master: when
SEGMENTATION_SPARK_MASTER is unset, Spark's own default (or spark-submit's --master) applies.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SERVICE_FOLDER = "service"  # <home>/service: the thrift target's catalog, files and servers


def find_project_dir() -> Path:
    """The dbt project root: $SEGMENTATION_PROJECT_DIR, else the nearest parent of cwd with
    dbt_project.yml, else the checkout this package was installed from."""
    if env := os.environ.get("SEGMENTATION_PROJECT_DIR"):
        return Path(env).resolve()
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if (candidate / "dbt_project.yml").is_file() and (candidate / "ml").is_dir():
            return candidate
    return PACKAGE_DIR.parents[1]


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else default


# Spark's shuffle partitions, when SEGMENTATION_SHUFFLE_PARTITIONS does not fix them: 8 for small
# inputs (200 made every size up to 1e7 slower on 2 cores), then one per million input rows, so that
# the line-level sorts of a big input fit in memory (8 made `matched` spill 10.5 GiB at 5e7; AQE
# coalesced Spark's 200 to 49 there). AQE still coalesces small partitions.
MIN_SHUFFLE_PARTITIONS = 8
ROWS_PER_SHUFFLE_PARTITION = 1_000_000


def shuffle_partitions_for(rows: int) -> int:
    """The shuffle partition count for an input of `rows` raw rows."""
    return max(MIN_SHUFFLE_PARTITIONS, math.ceil(rows / ROWS_PER_SHUFFLE_PARTITION))


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    home: Path  # the project-local folder holding warehouse, metastore, models, logs and pid files
    target: str = "local"
    spark_master: str | None = None
    driver_memory: str = "4g"
    executor_memory: str | None = None
    shuffle_partitions: int | None = None  # None: sized from the input by the pipeline (shuffle_partitions_for)
    metastore_url: str | None = None  # JDBC URL of a shared metastore; None means embedded Derby
    extra_spark_conf: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        project_dir = find_project_dir()
        home = Path(os.environ.get("SEGMENTATION_HOME", project_dir / ".warehouse")).resolve()
        extra: dict[str, str] = {}
        # SEGMENTATION_SPARK_CONF="k1=v1,k2=v2" adds or overrides any Spark setting.
        for item in filter(None, os.environ.get("SEGMENTATION_SPARK_CONF", "").split(",")):
            key, _, value = item.partition("=")
            extra[key.strip()] = value.strip()
        values: dict[str, object] = dict(
            project_dir=project_dir,
            home=home,
            target=os.environ.get("SEGMENTATION_TARGET", "local"),
            spark_master=os.environ.get("SEGMENTATION_SPARK_MASTER") or None,
            driver_memory=os.environ.get("SEGMENTATION_DRIVER_MEMORY", "4g"),
            executor_memory=os.environ.get("SEGMENTATION_EXECUTOR_MEMORY") or None,
            shuffle_partitions=_env_int("SEGMENTATION_SHUFFLE_PARTITIONS", None),
            metastore_url=os.environ.get("SEGMENTATION_METASTORE_URL") or None,
            extra_spark_conf=extra,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values["target"] != "thrift":
            values["metastore_url"] = None  # the local target's catalog is always its own Derby
        return cls(**values)  # type: ignore[arg-type]

    @property
    def catalog_home(self) -> Path:
        """The folder of this target's catalog and files. The two targets never share one: the local target
        keeps an embedded Derby catalog in the home itself, the thrift target a PostgreSQL catalog shared by
        the Thrift server in `<home>/service`. Two catalogs over one warehouse folder would each try to own
        the same table folders (LOCATION_ALREADY_EXISTS); `segmentation thrift publish` copies the local
        marts across instead."""
        return self.home / SERVICE_FOLDER if self.target == "thrift" else self.home

    @property
    def warehouse_dir(self) -> Path:
        return self.catalog_home / "spark-warehouse"

    @property
    def derby_dir(self) -> Path:
        return self.catalog_home / "metastore_db"

    @property
    def models_dir(self) -> Path:
        """Saved MLlib pipeline models, so that `segmentation score` needs no retraining."""
        return self.catalog_home / "models"

    @property
    def run_dir(self) -> Path:
        """Pid files, the writer lock and logs."""
        return self.catalog_home / "run"

    @property
    def secrets_dir(self) -> Path:
        """Owner-only files: the metastore and Thrift passwords, Spark's secret settings."""
        return self.catalog_home / "secrets"

    def for_target(self, target: str) -> Settings:
        """The same home, seen through the other target's catalog."""
        return dataclasses.replace(self, target=target, metastore_url=None if target == "local" else self.metastore_url)

    @property
    def spark_log(self) -> Path:
        """Spark's own warnings and errors: commands print one line, the details go here."""
        return self.run_dir / "spark.log"

    @property
    def binds_loopback(self) -> bool:
        """True unless the user points the driver at a cluster on another machine: then its executors must
        reach the driver, and the user decides where it binds (SPARK_LOCAL_IP, spark.driver.host)."""
        master = self.spark_master or "local"
        host = master.removeprefix("spark://").split(":")[0].split(",")[0]
        return master.startswith("local") or host in LOOPBACK_HOSTS

    @property
    def target_dir(self) -> Path:
        """dbt's target folder; run summaries are written beside its artifacts."""
        return self.project_dir / "target"

    def export_env(self) -> None:
        """Make dbt (profiles.yml) and child processes see the same folders as this process."""
        os.environ["SEGMENTATION_HOME"] = str(self.home)
        os.environ["SEGMENTATION_PROJECT_DIR"] = str(self.project_dir)
        os.environ["SEGMENTATION_TARGET"] = self.target
        if self.metastore_url:
            os.environ["SEGMENTATION_METASTORE_URL"] = self.metastore_url

    def spark_conf(self) -> dict[str, str]:
        """Spark settings for every session of this project (the pipeline, tests, the Thrift server)."""
        conf = {
            "spark.sql.warehouse.dir": str(self.warehouse_dir),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions or MIN_SHUFFLE_PARTITIONS),
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.adaptive.coalescePartitions.enabled": "true",
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            # Derby's metastore cannot filter partitions of string columns such as _source_file; fall back
            # to client-side pruning instead of failing the query.
            "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
            "spark.driver.memory": self.driver_memory,
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.extraJavaOptions": " ".join(
                [
                    f"-Dderby.system.home={self.catalog_home}",
                    f"-Dlog4j2.configurationFile={self.project_dir / LOG4J_CONFIG}",
                    f"-Dsegmentation.log.file={self.spark_log}",
                ]
            ),
        }
        if self.binds_loopback:
            # Driver, block manager and (with SPARK_LOCAL_IP, set by build_session) the UI on loopback only.
            conf["spark.driver.bindAddress"] = "127.0.0.1"
            conf["spark.driver.host"] = "127.0.0.1"
        if self.metastore_url:
            conf.update(metastore_conf(self.metastore_url))
        else:
            conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
                f"jdbc:derby:;databaseName={self.derby_dir};create=true"
            )
        if self.executor_memory:
            conf["spark.executor.memory"] = self.executor_memory
        conf.update(self.extra_spark_conf)
        return conf


POSTGRES_JDBC_JAR = Path("/usr/share/java/postgresql.jar")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
LOG4J_CONFIG = Path("conf") / "log4j2.properties"
METASTORE_USER = "segmentation"
# The one secret Spark needs: never a --conf (process arguments are world-readable), always the owner-only
# properties file build_session and the Thrift server pass to spark-submit.
METASTORE_PASSWORD_KEY = "spark.hadoop.javax.jdo.option.ConnectionPassword"


def metastore_conf(jdbc_url: str) -> dict[str, str]:
    """Hive metastore on a shared database (PostgreSQL), so that several JVMs see one catalog. The password
    is not here: see METASTORE_PASSWORD_KEY."""
    return {
        "spark.hadoop.javax.jdo.option.ConnectionURL": jdbc_url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
        "spark.hadoop.javax.jdo.option.ConnectionUserName": METASTORE_USER,
        # The Hive schema is created on first use. Without foreign keys: DataNucleus adds them from a second
        # connection while the first one's transaction still holds its row locks, and PostgreSQL then waits
        # forever (seen on the first CREATE TABLE). Hive deletes dependent rows itself.
        # (autoCreateAll would switch constraints back on, so the parts are listed one by one.)
        "spark.hadoop.datanucleus.schema.autoCreateAll": "false",
        "spark.hadoop.datanucleus.schema.autoCreateTables": "true",
        "spark.hadoop.datanucleus.schema.autoCreateColumns": "true",
        "spark.hadoop.datanucleus.schema.autoCreateConstraints": "false",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.driver.extraClassPath": str(POSTGRES_JDBC_JAR),
        "spark.executor.extraClassPath": str(POSTGRES_JDBC_JAR),
    }
