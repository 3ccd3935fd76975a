"""backscroll sandbox serve: the fake vendors on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import signal
import sys

import anyio
import httpx
import pytest

from backscroll.sandbox import CONVAI_CHARACTER_ID, CURSOR_API_KEY, TALKIFAI_TOKEN, Sandbox

from .running import assert_usage_error, invoke

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")


async def _serve(*flags: str) -> tuple[list[str], list[httpx.Response], int]:
    """Start the server, read its banner, ask what the callers want, then press Ctrl-C."""
    command = [sys.executable, "-m", "backscroll", "sandbox", "serve", "--port", "0", *flags]
    with anyio.fail_after(60):
        async with await anyio.open_process(command) as process:
            assert process.stdout is not None
            banner = b""
            while b"Ctrl-C" not in banner:
                banner += await process.stdout.receive()
            lines = banner.decode().splitlines()
            url = lines[0].rpartition(" ")[2]
            async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
                responses = [
                    await client.get(
                        "/cursor/v1/chat/history",
                        params={"conversation_id": "con_9s2kd81"},
                        headers={"Authorization": f"Bearer {CURSOR_API_KEY}"},
                    ),
                    await client.get(
                        "/talkifai/v1/chat/sessions/chat_abc123/messages",
                        headers={"Authorization": f"Bearer {TALKIFAI_TOKEN}"},
                    ),
                ]
            process.send_signal(signal.SIGINT)
            status = await process.wait()
    return lines, responses, status


@pytest.mark.anyio
@posix_only
async def test_serve_answers_on_loopback_and_stops_on_ctrl_c() -> None:
    """It prints its URL and credentials, answers the vendors' requests, and exits 0 on SIGINT."""
    lines, responses, status = await _serve("--seed", "1", "--log-level", "warning")

    assert lines[0].startswith("backscroll sandbox (seed 1) serving on http://127.0.0.1:")
    url = lines[0].rpartition(" ")[2]
    assert any(f"{url}/cursor/v1" in line and CURSOR_API_KEY in line for line in lines)
    assert any(f"{url}/talkifai" in line and TALKIFAI_TOKEN in line for line in lines)
    assert [response.status_code for response in responses] == [200, 200]
    assert responses[0].json()["status"] == "success"
    assert status == 0


@pytest.mark.anyio
@posix_only
async def test_serve_injects_the_faults_it_is_given() -> None:
    """--error-rate 1 answers every request with an error status in the vendor's shape."""
    _, responses, status = await _serve("--error-rate", "1", "--retry-after", "0")

    assert all(response.status_code in {429, 500, 502, 503} for response in responses)
    assert responses[0].json()["status"] == "error"  # the cursor API's own error body
    assert "detail" in responses[1].json()  # Talkifai's
    assert status == 0


def test_serve_prints_where_each_vendor_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The banner names the URL, each vendor's root and its public sandbox credential."""
    calls: list[dict[str, object]] = []

    def fake_serve(**options: object) -> None:
        calls.append(options)
        on_ready = options["on_ready"]
        assert callable(on_ready)
        on_ready("http://127.0.0.1:9999")

    monkeypatch.setattr("backscroll.sandbox.serve", fake_serve)
    result = invoke("sandbox", "serve", "--port", "9999", "--latency", "0.5", "--seed", "3")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "backscroll sandbox (seed 3) serving on http://127.0.0.1:9999"
    banner = {line.split()[0]: line for line in lines[1:] if not line.startswith("    ")}
    assert "http://127.0.0.1:9999/convai" in banner["convai"]
    assert CONVAI_CHARACTER_ID in banner["convai"]
    assert f"TALKIFAI_TOKEN={TALKIFAI_TOKEN}" in banner["talkifai"]
    assert f"EXAMPLE_AI_API_KEY={CURSOR_API_KEY}" in banner["cursor"]
    assert "ids to try: con_9s2kd81" in result.stdout
    (options,) = calls
    assert options["host"] == "127.0.0.1"
    assert options["port"] == 9999
    sandbox = options["sandbox"]
    assert isinstance(sandbox, Sandbox)
    assert sandbox.data.seed == 3
    assert sandbox.faults["cursor"].latency == 0.5


def test_serve_without_faults_plans_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fault flags the sandbox behaves as documented: no fault plan at all."""
    seen: list[Sandbox] = []
    monkeypatch.setattr("backscroll.sandbox.serve", lambda **o: seen.append(o["sandbox"]))

    assert invoke("sandbox", "serve").exit_code == 0
    assert seen[0].faults == {}


def test_serve_without_uvicorn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without uvicorn, serve says which extra to install, in one line, status 2."""

    def no_uvicorn(**_options: object) -> None:
        msg = "serving the sandbox needs uvicorn"
        raise ImportError(msg)

    monkeypatch.setattr("backscroll.sandbox.serve", no_uvicorn)
    assert_usage_error(invoke("sandbox", "serve"), "pip install 'backscroll[sandbox]'")
