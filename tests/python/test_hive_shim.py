"""The Thrift server's Hive class-path shim (segmentation/service/hive_shim.py), checked in a plain JVM:
Hive's FunctionRegistry must fail to initialise on pyspark's own jars and succeed with the shim. If the
first test fails, pyspark now ships hive-llap-common and the shim can go."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import missing_dependency
from segmentation.service._proc import spark_home
from segmentation.service.hive_shim import JAVA_DIR, compile_java, shim_classpath

# What Spark's launcher opens for Hive's reflection on Java 17.
ADD_OPENS = [f"--add-opens=java.base/{pkg}=ALL-UNNAMED"
             for pkg in ("java.lang", "java.lang.reflect", "java.io", "java.net", "java.nio", "java.util",
                         "java.util.concurrent", "sun.nio.ch")]


@pytest.fixture(scope="module")
def check_classes(tmp_path_factory):
    if shutil.which("javac") is None:
        missing_dependency("javac not found: the shim needs a JDK")
    return compile_java(JAVA_DIR / "check", tmp_path_factory.mktemp("check_classes"))


def _function_registry(*classpath) -> subprocess.CompletedProcess:
    jars = spark_home() / "jars" / "*"
    return subprocess.run(["java", *ADD_OPENS, "-cp", ":".join(map(str, [*classpath, jars])),
                           "segmentation_check.FunctionRegistryCheck"], capture_output=True, text=True, timeout=120)


def test_function_registry_fails_without_the_shim(check_classes):
    done = _function_registry(check_classes)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LlapSigner$Signable" in done.stdout


def test_function_registry_initialises_with_the_shim(check_classes, settings):
    done = _function_registry(check_classes, shim_classpath(settings))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FunctionRegistry initialised" in done.stdout
