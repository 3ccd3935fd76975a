"""
backscroll's tasks: ``nox`` runs exactly what CI runs.

In this order:

- ``lint``: ruff's linter and its formatter check;
- ``typecheck``: ``mypy --strict`` over src, tests, benchmarks and this file, with every
  extra installed;
- ``docs``: the documentation, built strictly (any warning fails it);
- ``integrations``: each framework integration with only its own extra installed, and
  its module's coverage;
- ``soak``: the long loopback tests (``-m soak``);
- ``speed``: the ``speed`` extra's tests with the extra installed, on asyncio and trio
  (the ``tests`` session runs the same file without it: the fallbacks);
- ``tests``: the suite under branch coverage, then the coverage report (``fail_under``)
  of everything but the framework integrations.

Not run by default: ``bench``, the benchmarks against the alternatives (``nox -s bench``,
a few minutes; see docs/benchmarks.md).

``nox -s NAME`` runs one session; arguments after ``--`` go to its tool, as in
``nox -s tests -- -k paging -x`` or ``nox -s docs -- serve``.
"""

from __future__ import annotations

import pathlib

import nox

nox.needs_version = ">=2025.10.14"  # nox.options.download_python

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_external_run = True
# The test matrix comes from the classifiers. An interpreter that is not installed is
# skipped, never downloaded: CI has only the oldest.
nox.options.error_on_missing_interpreters = False
nox.options.download_python = "never"
# Quick checks first; the suite last, so that its summary ends the log.
nox.options.sessions = ["lint", "typecheck", "docs", "integrations", "soak", "speed", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = nox.project.python_versions(PYPROJECT)
OLDEST = PYTHONS[0]
EXTRAS = list(PYPROJECT["project"].get("optional-dependencies", {}))
# Each framework integration is tested with only its own extra installed, so that a
# dependency missing from one cannot hide behind another's. Its module is measured there,
# not in the tests session, where its framework is not installed.
PLUGIN = "./tests/plugin_vendor"
INTEGRATIONS = [
    "openai",
    "langchain",
    "langgraph",
    "pydantic-ai",
    "llama-index",
    "openai-agents",
    "agent-framework",
    "dlt",
]
# What an integration's tests need beyond its extra: the dlt tests load into DuckDB and
# into Parquet files, destinations users pick with dlt's own extras.
INTEGRATION_TEST_NEEDS = {"dlt": ["dlt[duckdb,parquet]"]}


def _module(extra: str) -> str:
    return f"*/backscroll/integrations/{extra.replace('-', '_')}.py"


def _install(session: nox.Session, extras: str, *groups: str) -> None:
    requirements = [r for group in groups for r in nox.project.dependency_groups(PYPROJECT, group)]
    if "tests" in groups or "typing" in groups:
        # The out-of-tree vendor plugin the suite proves the registry with, installed by
        # its entry point as a user's package would be (a path is not a PEP 735 entry).
        requirements.append(PLUGIN)
    session.install("-e", f".[{extras}]", *requirements)


@nox.session(python=OLDEST)
def lint(session: nox.Session) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", *session.posargs, ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=OLDEST)
def typecheck(session: nox.Session) -> None:
    # Every extra, so that mypy sees the real types of each integration.
    _install(session, ",".join(EXTRAS), "typing")
    # ... and what their tests import beyond them (tests/ is type-checked too).
    session.install(*(need for needs in INTEGRATION_TEST_NEEDS.values() for need in needs))
    session.run("mypy", *session.posargs)  # files and strictness come from pyproject.toml


@nox.session(python=OLDEST)
def docs(session: nox.Session) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, "docs"))
    # Material prints an end-of-life notice (May 2027) on every build; it is known.
    env = {"NO_MKDOCS_2_WARNING": "1"}
    if session.posargs == ["serve"]:
        session.run("mkdocs", "serve", env=env)
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs, env=env)


@nox.session(python=OLDEST)
@nox.parametrize("extra", [nox.param(extra, id=extra) for extra in INTEGRATIONS])
def integrations(session: nox.Session, extra: str) -> None:
    test_file = pathlib.Path("tests", "integrations", f"test_{extra.replace('-', '_')}.py")
    if not test_file.exists():
        session.skip(f"{test_file} does not exist yet: nothing to test for the {extra!r} extra")
    if extra not in EXTRAS:
        session.error(f"{test_file} exists, but pyproject.toml has no {extra!r} extra")
    _install(session, f"cli,sandbox,{extra}", "tests")
    if extra in INTEGRATION_TEST_NEEDS:
        session.install(*INTEGRATION_TEST_NEEDS[extra])
    session.run("coverage", "erase")
    # dlt reports usage to its makers unless told not to; no test talks to the internet.
    env = {"RUNTIME__DLTHUB_TELEMETRY": "false"}
    session.run("coverage", "run", "-m", "pytest", str(test_file), *session.posargs, env=env)
    session.run("coverage", "combine")
    narrowed = ["--fail-under=0"] if session.posargs else []
    session.run("coverage", "report", f"--include={_module(extra)}", *narrowed)


@nox.session(python=OLDEST)
def soak(session: nox.Session) -> None:
    _install(session, "cli,sandbox", "tests")
    # pytest exits 5 when no test is marked soak (yet); that is not a failure.
    session.run("pytest", "-m", "soak", *session.posargs, success_codes=[0, 5])


@nox.session(python=OLDEST)
def speed(session: nox.Session) -> None:
    # The extra changes costs, never results: its tests, and the sinks' and HTTP core's,
    # with orjson, sniffio and httpx-aiohttp installed.
    _install(session, "sandbox,speed", "tests")
    files = ["tests/test_speed.py", "tests/migration/test_sinks.py", "tests/test_http_errors.py"]
    session.run("pytest", *(session.posargs or files))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    _install(session, "cli,sandbox", "tests")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", "-m", "not soak", *session.posargs)
    session.run("coverage", "combine")
    omit = ",".join(_module(extra) for extra in INTEGRATIONS)
    # A run narrowed by arguments covers less by design: report, but do not fail on it.
    narrowed = ["--fail-under=0"] if session.posargs else []
    session.run("coverage", "report", f"--omit={omit}", *narrowed)


@nox.session(python=OLDEST)
def bench(session: nox.Session) -> None:
    # Not in nox.options.sessions: timings are not a pass/fail check, and dlt is heavy.
    # With the speed extra: the run measures the default install by switching it off, then
    # the extra's own row at concurrency 16 (docs/benchmarks.md).
    _install(session, "sandbox,speed", "bench")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
