"""The pytest plugin: a backscroll_sandbox per test, its marker, docs/testing.md."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

from backscroll.sandbox import CursorQuirks, Sandbox

pytest_plugins = ["pytester"]

ROOT = pathlib.Path(__file__).parent.parent.parent
TESTING_PAGE = ROOT / "docs" / "testing.md"


def python_blocks(page: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)


def test_the_fixture_is_a_fresh_default_sandbox(backscroll_sandbox: Sandbox) -> None:
    """Unmarked, the fixture is a Sandbox with seed 0 and the default data."""
    assert isinstance(backscroll_sandbox, Sandbox)
    assert backscroll_sandbox.data.snapshot() == Sandbox(seed=0).data.snapshot()
    assert not backscroll_sandbox.requests


def test_the_fixture_turns_retry_waits_off_for_the_test(pytester: pytest.Pytester) -> None:
    """Inside a test using the fixture testing mode is on; after it, off again."""
    pytester.makepyfile(
        textwrap.dedent(
            """
            import backscroll.testing

            def test_on(backscroll_sandbox):
                assert backscroll.testing.is_testing()

            def test_off_again():
                assert not backscroll.testing.is_testing()
            """
        )
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.backscroll_sandbox(seed=3, cursor_sizes=(5,), cursor_quirks=CursorQuirks(max_limit=4))
def test_the_marker_passes_its_options_to_the_sandbox(backscroll_sandbox: Sandbox) -> None:
    """The marker's keyword arguments become the Sandbox's options."""
    assert backscroll_sandbox.data.seed == 3
    assert sorted(len(r) for r in backscroll_sandbox.data.cursor.values()) == [5, 47]
    assert backscroll_sandbox.cursor_quirks == CursorQuirks(max_limit=4)


@pytest.mark.backscroll_sandbox(seed=1)
class TestAClassMarker:
    """A class's marker applies to its tests; a test's own marker wins over it."""

    def test_the_class_marker_applies(self, backscroll_sandbox: Sandbox) -> None:
        """A test without its own marker gets its class's options."""
        assert backscroll_sandbox.data.seed == 1

    @pytest.mark.backscroll_sandbox(seed=2)
    def test_the_nearest_marker_wins(self, backscroll_sandbox: Sandbox) -> None:
        """The test's own marker beats its class's."""
        assert backscroll_sandbox.data.seed == 2


def test_each_test_gets_its_own_sandbox(pytester: pytest.Pytester) -> None:
    """What one test loads into its sandbox, the next test's sandbox does not hold."""
    pytester.makepyfile(
        test_two="""
        def test_first(backscroll_sandbox):
            backscroll_sandbox.data.add_records("talkifai", "mine", [])
            backscroll_sandbox.data.extend_cursor("con_9s2kd81", 3)

        def test_second(backscroll_sandbox):
            assert "mine" not in backscroll_sandbox.data.talkifai
            assert len(backscroll_sandbox.data.cursor["con_9s2kd81"]) == 47
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_bad_marker_is_a_configuration_error(pytester: pytest.Pytester) -> None:
    """A marker Sandbox cannot take errors its test with a ConfigurationError that says why."""
    pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.backscroll_sandbox(3)
        def test_positional(backscroll_sandbox):
            pass

        @pytest.mark.backscroll_sandbox(colour="red")
        def test_unknown_option(backscroll_sandbox):
            pass

        @pytest.mark.backscroll_sandbox(burst_rate=2.0)
        def test_bad_value(backscroll_sandbox):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ConfigurationError*takes keyword arguments only*",
            "*ConfigurationError*unexpected keyword argument 'colour'*",
            "*ConfigurationError*burst_rate must be between 0 and 1*",
        ],
        consecutive=False,
    )


def test_without_the_extra_only_the_fixture_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without starlette pytest runs; the fixture raises MissingExtraError naming the extra."""
    for name in [
        m
        for m in sys.modules
        if m == "backscroll.sandbox" or m.startswith(("backscroll.sandbox.", "starlette"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette now fails
    pytester.makepyfile(
        test_extra="""
        def test_needs_the_sandbox(backscroll_sandbox):
            pass

        def test_needs_nothing():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*MissingExtraError*needs the sandbox extra: pip install 'backscroll?sandbox?'*"]
    )


def test_loading_the_plugin_does_not_import_the_sandbox() -> None:
    """The entry point's module imports neither the sandbox nor starlette: pytest starts anyway."""
    code = textwrap.dedent(
        """
        import sys
        from importlib.metadata import entry_points

        (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "backscroll"]
        assert plugin.value == "backscroll.pytest_plugin", plugin
        plugin.load()
        assert "backscroll.sandbox" not in sys.modules
        assert "starlette" not in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)  # noqa: S603 - this interpreter


def test_the_testing_page_passes_as_a_users_test_module(pytester: pytest.Pytester) -> None:
    """docs/testing.md's python blocks, as one test module, all pass on asyncio and trio."""
    source = "\n\n".join(python_blocks(TESTING_PAGE))
    tests = re.findall(r"^\s*(?:async )?def (test_\w+)", source, re.MULTILINE)
    assert len(tests) >= 6, tests
    pytester.makepyfile(test_from_the_docs=source)
    # A separate interpreter, as a user's run: the plugin is found by its entry point.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-v")
    result.assert_outcomes(passed=2 * len(tests))
    for name in tests:
        result.stdout.fnmatch_lines([f"*::{name}?asyncio? PASSED*", f"*::{name}?trio? PASSED*"])
