"""The sandbox under uvicorn on 127.0.0.1: real sockets, real dropped connections, the CLI path."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import sys
from typing import Any

import anyio
import httpx
import pytest

import backscroll.testing
from backscroll import errors
from backscroll.sandbox import (
    CONVAI_API_KEY,
    CONVAI_CHARACTER_ID,
    TALKIFAI_TOKEN,
    Faults,
    Sandbox,
    serving,
)

pytestmark = pytest.mark.anyio

CURL = shutil.which("curl")


async def test_three_providers_read_whole_conversations_over_sockets(sandbox: Sandbox) -> None:
    """Each provider reads a whole conversation from the server on loopback, as the truth says."""
    talkifai_id = max(sandbox.data.talkifai, key=lambda c: len(sandbox.data.talkifai[c]))
    cursor_id = max(sandbox.data.cursor, key=lambda c: len(sandbox.data.cursor[c]))
    session_id = max(
        sandbox.data.convai_interactions, key=lambda s: len(sandbox.data.convai_interactions[s])
    )

    async with sandbox.serving() as url:
        assert url.startswith("http://127.0.0.1:")
        async with (
            sandbox.convai(base_url=url) as convai,
            sandbox.talkifai(base_url=url) as talkifai,
            sandbox.cursor(base_url=url) as cursor,
        ):
            convai_read = [m.content async for m in convai.messages(session_id)]
            talkifai_read = [m.content async for m in talkifai.messages(talkifai_id, page_size=40)]
            cursor_read = [m.id async for m in cursor.messages(cursor_id, order="desc")]

    interactions = sandbox.data.convai_interactions[session_id]
    assert convai_read == [e["message"] for i in interactions for e in i["interaction"]]
    assert talkifai_read == [r["content"] for r in sandbox.data.talkifai[talkifai_id]]
    # Compared as a set: the order within a burst is a known client bug (see test_providers).
    assert sorted(cursor_read) == sorted(r["id"] for r in sandbox.data.cursor[cursor_id])
    assert len(cursor_read) == len(set(cursor_read))


async def test_a_dropped_connection_is_a_protocol_error_on_a_socket(sandbox: Sandbox) -> None:
    """Under uvicorn a drop aborts the response mid-body: the client sees a protocol error."""
    sandbox.set_faults("talkifai", Faults(drop=1))
    async with sandbox.serving() as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(4):  # both kinds of drop become a mid-body abort on a socket
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(
                    "/talkifai/v1/chat/sessions/chat_abc123/messages",
                    headers={"Authorization": f"Bearer {TALKIFAI_TOKEN}"},
                )
    assert [r.fault for r in sandbox.requests] == ["drop"] * 4


async def test_a_provider_retries_through_drops_on_a_socket(sandbox: Sandbox) -> None:
    """With a drop now and then, a provider on a real socket retries and reads everything."""
    sandbox.set_faults("cursor", Faults(drop=0.3, seed=2))

    async with sandbox.serving() as url, sandbox.cursor(base_url=url, max_retries=10) as cursor:
        backscroll.testing.set_testing(True)  # no waits; reset by the autouse fixture
        read = [m.id async for m in cursor.messages("con_9s2kd81", page_size=10)]

    assert sorted(read) == sorted(r["id"] for r in sandbox.data.cursor["con_9s2kd81"])
    assert "drop" in {r.fault for r in sandbox.requests}


async def test_a_slow_body_arrives_whole(sandbox: Sandbox) -> None:
    """A slow body trickles in over the socket and arrives whole."""
    url_path = "/talkifai/v1/chat/sessions/chat_abc123/messages"
    headers = {"Authorization": f"Bearer {TALKIFAI_TOKEN}"}
    async with sandbox.serving() as url, httpx.AsyncClient(base_url=url) as client:
        whole = (await client.get(url_path, headers=headers)).content
        sandbox.set_faults("talkifai", Faults(slow=1, slow_chunks=3, slow_delay=0.01))
        slow = (await client.get(url_path, headers=headers)).content

    assert slow == whole


@pytest.mark.parametrize(("conversation_id", "encoded"), [("a/b", "a%2Fb"), ("..", "%2E%2E")])
async def test_encoded_ids_over_a_socket(
    sandbox: Sandbox, conversation_id: str, encoded: str
) -> None:
    """Percent-encoded / and .. reach the Talkifai route as the id, through uvicorn too."""
    records = sandbox.data.extend_talkifai(conversation_id, 2)
    async with sandbox.serving() as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get(
            f"/talkifai/v1/chat/sessions/{encoded}/messages",
            headers={"Authorization": f"Bearer {TALKIFAI_TOKEN}"},
        )
        async with sandbox.talkifai(base_url=url) as provider:
            read = [m.content async for m in provider.messages(conversation_id)]

    assert response.json()["messages"] == records
    assert read == [r["content"] for r in records]


# -- the vendors' documented samples, run as written -----------------------------------------


async def test_documented_requests_sample_over_a_socket(sandbox: Sandbox) -> None:
    """The Convai docs' Python `requests` sample, with the URL pointed at the sandbox, works."""
    requests = pytest.importorskip("requests")

    def sample(base: str) -> Any:
        url = f"{base}/convai/character/chatHistory/list"
        headers = {"CONVAI-API-KEY": CONVAI_API_KEY, "Content-Type": "application/json"}
        payload = {"charID": CONVAI_CHARACTER_ID, "limit": "-1"}
        json_payload = json.dumps(payload)
        response = requests.post(url, headers=headers, data=json_payload, timeout=10)
        return response.text

    async with sandbox.serving() as url:
        text = await anyio.to_thread.run_sync(sample, url)

    assert json.loads(text) == sandbox.data.convai_sessions[CONVAI_CHARACTER_ID]


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
async def test_documented_curl_lines_over_a_socket(sandbox: Sandbox) -> None:
    """The documented curl lines of the three vendors, pointed at the sandbox, answer."""
    assert CURL is not None
    async with sandbox.serving() as url:

        async def curl(*arguments: str) -> Any:
            done = await anyio.run_process([CURL, "--silent", "--noproxy", "*", *arguments])
            return json.loads(done.stdout)

        sessions = await curl(
            "-X", "POST", f"{url}/convai/character/chatHistory/list",
            "-H", f"CONVAI-API-KEY: {CONVAI_API_KEY}",
            "-H", "Content-Type: application/json",
            "-d", f'{{"charID": "{CONVAI_CHARACTER_ID}", "limit": "-1"}}',
        )  # fmt: skip
        newest = sessions[0]["sessionID"]
        deleted = await curl(
            "-X", "POST", f"{url}/convai/character/chatHistory/delete",
            "-H", f"CONVAI-API-KEY: {CONVAI_API_KEY}",
            "-H", "Content-Type: application/json",
            "-d", f'{{"charID": "{CONVAI_CHARACTER_ID}", "sessionIDs": ["{newest}"]}}',
        )  # fmt: skip
        talkifai = await curl(
            "-X", "GET", f"{url}/talkifai/v1/chat/sessions/chat_abc123/messages?limit=20",
            "-H", f"Authorization: Bearer {TALKIFAI_TOKEN}",
        )  # fmt: skip
        cursor = await curl(
            "-X", "GET",
            f"{url}/cursor/v1/chat/history?conversation_id=con_9s2kd81&limit=20&before=2026-03-15T14:22:11Z",
            "-H", "Authorization: Bearer sk_test_51_fakeapikey123456",
            "-H", "Content-Type: application/json",
        )  # fmt: skip

    assert [(s["sessionID"], s["date"], s["time"]) for s in sessions[:2]] == [
        ("c1234567890aba1111222233334447862", "25-09-2024", "20:52:57"),
        ("8c123456789011111222223333344455", "25-09-2024", "19:54:56"),
    ]
    assert deleted == {"status": "SUCCESSFULLY DELETED"}
    assert talkifai["count"] == 20
    assert cursor["status"] == "success"
    assert [m["id"] for m in cursor["data"]["messages"][:2]] == ["msg_18dk03", "msg_92kd82"]


# -- serving ---------------------------------------------------------------------------------


async def test_serving_without_a_sandbox_makes_one() -> None:
    """serving() alone serves a fresh seeded sandbox."""
    async with serving(seed=4) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get(
            "/talkifai/v1/chat/sessions/chat_abc123/messages",
            headers={"Authorization": f"Bearer {TALKIFAI_TOKEN}"},
        )
    assert response.json()["messages"] == Sandbox(seed=4).data.talkifai["chat_abc123"][:50]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "example.com"])  # noqa: S104
async def test_serving_refuses_non_loopback_hosts(host: str) -> None:
    """The sandbox's credentials are public: it listens on loopback only."""
    with pytest.raises(errors.ConfigurationError, match="loopback"):
        async with serving(host=host):
            pass


async def test_serving_reports_a_busy_port() -> None:
    """A port that is taken is a ConfigurationError naming it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(errors.ConfigurationError, match=str(port)):
            async with serving(port=port):
                pass


@pytest.mark.parametrize("port", [-1, 70000])
async def test_serving_refuses_bad_ports(port: int) -> None:
    """A port outside 0..65535 is a ConfigurationError."""
    with pytest.raises(errors.ConfigurationError, match="port"):
        async with serving(port=port):
            pass


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
async def test_serve_blocks_until_interrupted() -> None:
    """serve() (the CLI's entry) announces its URL, answers, and stops cleanly on Ctrl-C."""
    code = (
        "from backscroll.sandbox import serve\n"
        "serve(seed=1, log_level='warning', on_ready=lambda url: print(url, flush=True))\n"
    )
    with anyio.fail_after(30):
        async with await anyio.open_process([sys.executable, "-c", code]) as process:
            assert process.stdout is not None
            line = b""
            while not line.endswith(b"\n"):
                line += await process.stdout.receive(1)
            url = line.decode().strip()
            async with httpx.AsyncClient(base_url=url) as client:
                response = await client.get(
                    "/cursor/v1/chat/history",
                    params={"conversation_id": "con_9s2kd81"},
                    headers={"Authorization": "Bearer sk_test_sandbox"},
                )
            process.send_signal(signal.SIGINT)
            status = await process.wait()

    assert url.startswith("http://127.0.0.1:")
    assert response.status_code == 200
    assert status == 0
