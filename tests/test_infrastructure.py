"""The test infrastructure itself: throwaway PostgreSQL and the CI no-skip policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

CONFTEST = Path(__file__).with_name("conftest.py")


def _scalar(url: str, query: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_url_is_a_working_database(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://openhep@127.0.0.1:")
    version = _scalar(postgres_url, "select version()")
    assert isinstance(version, str)
    assert version.startswith("PostgreSQL")
    assert _scalar(postgres_url, "select current_database()") == postgres_url.rsplit("/", 1)[1]


@pytest.mark.postgres
def test_create_database_gives_independent_databases(postgres_cluster: object) -> None:
    from _services.postgres import PostgresCluster

    assert isinstance(postgres_cluster, PostgresCluster)
    url_a = postgres_cluster.create_database("infra_a")
    url_b = postgres_cluster.create_database("infra_b")
    assert url_a != url_b

    engine_a, engine_b = create_engine(url_a), create_engine(url_b)
    try:
        with engine_a.begin() as conn:
            conn.execute(text("create table only_in_a (x int)"))
            conn.execute(text("insert into only_in_a values (1)"))
        with engine_b.connect() as conn:
            assert conn.execute(text("select to_regclass('only_in_a')")).scalar() is None
        with engine_a.connect() as conn:
            assert conn.execute(text("select count(*) from only_in_a")).scalar_one() == 1
    finally:
        engine_a.dispose()
        engine_b.dispose()


INNER_TESTS = """
import pytest

def test_passes():
    pass

def test_skips_in_body():
    pytest.skip("no widget here")

@pytest.mark.skip(reason="marked away")
def test_skip_marker():
    pass

def test_importorskip():
    pytest.importorskip("surely_not_an_installed_module_xyz")

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False
"""

INNER_MODULE_SKIP = """
import pytest

pytest.importorskip("surely_not_an_installed_module_xyz")

def test_never_collected():
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


@pytest.mark.parametrize("value", ["true", "1"])
def test_skips_fail_under_ci(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    result = inner.runpytest_subprocess("-rA")
    # Skips in the test body fail; skip markers act during setup and show as errors.
    result.assert_outcomes(passed=1, failed=2, errors=1, xfailed=1, skipped=0)
    result.stdout.fnmatch_lines(["*skipped under CI=true: no widget here*"])
    result.stdout.fnmatch_lines(["*skipped under CI=true: marked away*"])
    result.stdout.fnmatch_lines(
        ["*skipped under CI=true: could not import 'surely_not_an_installed_module_xyz'*"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_skips_allowed_outside_ci(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = inner.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_ci_false_does_not_count(inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    result = inner.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)


def test_module_level_skip_fails_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_modskip=INNER_MODULE_SKIP)

    monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED

    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*skipped under CI=true: could not import*"])
    assert result.ret != pytest.ExitCode.OK
