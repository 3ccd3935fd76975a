"""Hints at the command line name its flags, and the flags they name exist."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

import backscroll
from backscroll.sandbox import CURSOR_API_KEY

from .running import Served, assert_usage_error, invoke, vendor_args


def _failure(result_stdout: str) -> dict[str, str]:
    [failure] = json.loads(result_stdout)["failures"]
    return failure  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("vendor", "conversation_id", "flag", "env_var"),
    [
        ("cursor", "con_9s2kd81", "--api-key", "EXAMPLE_AI_API_KEY"),
        ("talkifai", "chat_abc123", "--token", "TALKIFAI_TOKEN"),
    ],
)
def test_a_refused_credential_names_the_flag_and_variable(
    served: Served, vendor: str, conversation_id: str, flag: str, env_var: str
) -> None:
    """A 401 says which flag or environment variable gives the credential, not a keyword."""
    result = invoke(
        "export",
        *vendor_args(served, vendor),
        flag,
        "wrong-credential",
        "--id",
        conversation_id,
        "--out",
        "out.jsonl",
        "--json",
    )
    assert result.exit_code == 3, result.output
    reason = json.loads(result.stdout)["stopped_by"]["reason"]
    assert f"pass {flag} or set {env_var}" in reason
    assert "token=" not in reason
    assert "api_key=" not in reason
    assert "wrong-credential" not in result.output


def test_a_404_from_no_route_says_the_base_url_is_likely_wrong(served: Served) -> None:
    """A 404 that is not the vendor's own body points at --base-url, not at the id."""
    result = invoke(
        "export",
        "cursor",
        "--base-url",
        served.base_url("cursor").replace("/cursor/", "/cursorx/"),
        "--id",
        "con_9s2kd81",
        "--out",
        "out.jsonl",
        "--json",
        env=served.env,
    )
    assert result.exit_code == 1, result.output
    reason = _failure(result.stdout)["reason"]
    assert "Check --base-url" in reason
    assert "deleted or expired" not in reason


def test_the_vendors_own_404_still_points_at_the_id(served: Served) -> None:
    """The vendor's own "not found" body keeps the hint about the id."""
    result = invoke(
        "export",
        *vendor_args(served, "cursor"),
        "--id",
        "con_missing",
        "--out",
        "out.jsonl",
        "--json",
        env=served.env,
    )
    assert result.exit_code == 1, result.output
    reason = _failure(result.stdout)["reason"]
    assert "Check the id" in reason
    assert "--base-url" not in reason


def test_an_unreachable_vendor_names_the_base_url_flag() -> None:
    """A connection refused says to check --base-url."""
    result = invoke(
        "export",
        "cursor",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--max-retries",
        "0",
        "--id",
        "con_9s2kd81",
        "--out",
        "out.jsonl",
        "--json",
        env={"EXAMPLE_AI_API_KEY": CURSOR_API_KEY},
    )
    assert result.exit_code == 1, result.output
    assert "Check the network and --base-url" in _failure(result.stdout)["reason"]


def test_plain_http_off_loopback_names_the_flag_that_allows_it() -> None:
    """--base-url http://... off loopback is refused with a message naming --allow-insecure-http."""
    result = invoke(
        "export",
        "cursor",
        "--base-url",
        "http://example.invalid/v1",
        "--id",
        "con_9s2kd81",
        "--out",
        "out.jsonl",
        env={"EXAMPLE_AI_API_KEY": CURSOR_API_KEY},
    )
    assert_usage_error(result, "pass --allow-insecure-http if you really mean it")
    assert "allow_insecure_http" not in result.stderr


def test_allow_insecure_http_is_a_flag_that_lets_the_url_through(served: Served) -> None:
    """With --allow-insecure-http the same kind of URL is accepted (here, loopback works)."""
    result = invoke(
        "export",
        *vendor_args(served, "cursor"),
        "--allow-insecure-http",
        "--id",
        "con_9s2kd81",
        "--out",
        "out.jsonl",
        env=served.env,
    )
    assert result.exit_code == 0, result.output


def test_a_remote_sandbox_host_names_the_flag_that_allows_it() -> None:
    """Serving on --host 0.0.0.0 is refused with a message naming --allow-remote."""
    result = invoke("sandbox", "serve", "--host", "0.0.0.0", "--port", "0")  # noqa: S104
    assert_usage_error(result, "Pass --allow-remote if you really mean it")
    assert "allow_remote=" not in result.stderr


def test_the_allow_remote_flag_exists() -> None:
    """The flag the message names is one sandbox serve takes."""
    result = invoke("sandbox", "serve", "--help", env={"COLUMNS": "200"})
    assert "--allow-remote" in result.stdout


def test_a_failure_is_not_logged_twice_without_verbose(served: Served) -> None:
    """Without -v, a failed conversation shows in the summary only, not as a log line too."""
    result = invoke(
        "export",
        *vendor_args(served, "cursor"),
        "--id",
        "con_missing",
        "--out",
        "out.jsonl",
        "--quiet",
        env=served.env,
    )
    assert result.exit_code == 1, result.output
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("body", "route"),
    [
        (b"Not Found", True),
        (b"<html><body>404</body></html>", True),
        (b'{"detail": "Not Found"}', True),
        (b'{"detail": "Session not found or expired"}', False),
        (b"", False),
    ],
)
def test_python_callers_keep_the_keyword_in_the_route_hint(body: bytes, *, route: bool) -> None:
    """From Python the same 404 says base_url=..., and only a body that is no vendor's own."""
    transport = httpx.MockTransport(lambda _: httpx.Response(404, content=body))

    async def read() -> str:
        async with (
            httpx.AsyncClient(transport=transport) as client,
            backscroll.CursorProvider(api_key=CURSOR_API_KEY, http_client=client) as provider,
        ):
            with pytest.raises(backscroll.NotFoundError) as caught:
                [message async for message in provider.messages("con_9s2kd81")]
        return str(caught.value)

    message = anyio.run(read)
    assert ("Check base_url=..." in message) is route
    assert ("Check the id" in message) is not route
