"""Every generic test macro must pass on good data and fail on bad data (tests/generic_tests_project)."""

from __future__ import annotations

from pathlib import Path

import pytest

INTEGRATION_PROJECT = Path(__file__).resolve().parents[2] / "integration_tests" / "generic_tests"
GENERIC_TESTS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "macros" / "tests").glob("*.sql"))


def _invoke(settings, args: list[str]):
    from dbt.cli.main import dbtRunner

    settings.export_env()
    return dbtRunner().invoke(
        [*args, "--project-dir", str(INTEGRATION_PROJECT), "--profiles-dir", str(settings.project_dir)]
    )


@pytest.fixture(scope="module")
def integration_results(spark, settings):
    seeded = _invoke(settings, ["build", "--exclude", "tag:must_fail"])
    assert seeded.success, "seeds, models and must_pass tests should all succeed"
    failing = _invoke(settings, ["test", "--select", "tag:must_fail"])
    return seeded.result.results, failing.result.results


def _macro_of(result) -> str:
    return result.node.test_metadata.name


def test_every_generic_test_is_exercised_both_ways(integration_results):
    passing, failing = integration_results
    passed_macros = {_macro_of(r) for r in passing if r.node.resource_type == "test"}
    failed_macros = {_macro_of(r) for r in failing}
    assert passed_macros == set(GENERIC_TESTS)
    assert failed_macros == set(GENERIC_TESTS)


def test_must_fail_tests_fail(integration_results):
    _, failing = integration_results
    statuses = {_macro_of(r): str(r.status) for r in failing}
    assert statuses and all(status == "fail" for status in statuses.values()), statuses
