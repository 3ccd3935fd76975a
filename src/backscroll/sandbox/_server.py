"""
Serving the sandbox under uvicorn on loopback: blocking (the CLI) or for the length of a test.

uvicorn runs on asyncio only, so `serving` runs it in a thread with its own event loop:
the test's own loop (asyncio or trio) is free to be a client. The listening socket is bound
here first, so port 0 (any free port) works and the URL is known before uvicorn starts.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread

from backscroll._hints import spell
from backscroll.errors import BackscrollError, ConfigurationError
from backscroll.sandbox._faults import ConnectionDropped

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from backscroll.sandbox._app import Sandbox

__all__ = ["serve", "serving"]

_STARTUP_TIMEOUT: Final = 30.0


def _uvicorn() -> Any:
    try:
        import uvicorn  # noqa: PLC0415 - only serving needs it
    except ImportError as exc:
        msg = "serving the sandbox needs uvicorn: pip install 'backscroll[sandbox]'"
        raise ImportError(msg) from exc
    return uvicorn


class _QuietDrops(logging.Filter):
    """Hide uvicorn's traceback for connections the fault plan drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_QUIET_DROPS: Final = _QuietDrops()


def _bind(host: str, port: int, *, allow_remote: bool) -> socket.socket:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        loopback = host == "localhost"
        family = socket.AF_INET
    else:
        loopback = address.is_loopback
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET  # noqa: PLR2004
    if not loopback and not allow_remote:
        msg = (
            f"refusing to serve the sandbox on {host}: its credentials are public, so it "
            f"listens on loopback only (127.0.0.1, ::1, localhost). Pass "
            f"{spell('allow_remote', 'True')} if you really mean it."
        )
        raise ConfigurationError(msg)
    checked: object = port
    if isinstance(checked, bool) or not isinstance(checked, int) or not 0 <= checked <= 65535:  # noqa: PLR2004
        msg = f"port must be an integer from 0 to 65535, got {port!r}"
        raise ConfigurationError(msg)
    # IPPROTO_TCP said outright: asyncio sets TCP_NODELAY only on sockets that say it, and
    # without it every answer on a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        # Listening now queues early connections until uvicorn accepts them.
        sock.listen(128)
    except OSError as exc:
        sock.close()
        msg = f"cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another port."
        raise ConfigurationError(msg) from None
    sock.set_inheritable(True)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _config(app: Any, *, log_level: str, quiet: bool) -> Any:
    uvicorn = _uvicorn()
    logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)
    options: dict[str, Any] = {
        "log_level": log_level,
        "lifespan": "off",
        # h11 everywhere: a dropped connection looks the same whatever is installed.
        "http": "h11",
        "loop": "asyncio",
        "timeout_graceful_shutdown": 2,
    }
    if quiet:
        # Leave the host program's logging alone (no dictConfig, no access log).
        options |= {"log_config": None, "access_log": False}
    return uvicorn.Config(app, **options)


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
    sandbox: Sandbox | None = None,
    log_level: str = "info",
    on_ready: Callable[[str], None] | None = None,
    allow_remote: bool = False,
) -> None:
    """
    Run the sandbox under uvicorn until interrupted; this is ``backscroll sandbox serve``.

    Returns normally after Ctrl-C (SIGINT), once uvicorn has shut down; SIGTERM ends the
    process after the same clean shutdown, as uvicorn does.

    The vendors answer under ``<url>/convai``, ``<url>/talkifai`` and ``<url>/cursor/v1``
    with the credentials in `backscroll.sandbox` (``CONVAI_API_KEY``, ``TALKIFAI_TOKEN``,
    ``CURSOR_API_KEY``).

    Args:
        host: The loopback address to listen on.
        port: The port; 0 picks a free one (passed to *on_ready*).
        seed: The data seed, when no *sandbox* is given.
        sandbox: A configured `Sandbox` (quirks, faults, sizes) to serve instead.
        log_level: uvicorn's log level (``"warning"`` for quiet).
        on_ready: Called with the root URL (``http://127.0.0.1:8123``) once listening.
        allow_remote: Allow a non-loopback *host*. The sandbox's credentials are public.

    Raises:
        ConfigurationError: a non-loopback host, a bad port, or the port is taken.

    .. versionadded:: 0.1.0
    """
    if sandbox is None:
        from backscroll.sandbox._app import Sandbox  # noqa: PLC0415 - avoids an import cycle

        sandbox = Sandbox(seed=seed)
    sock = _bind(host, port, allow_remote=allow_remote)
    try:
        server = _uvicorn().Server(_config(sandbox.app, log_level=log_level, quiet=False))
        if on_ready is not None:
            on_ready(_url(sock))
        # uvicorn shuts down cleanly on Ctrl-C, then re-raises the signal: the caller (the
        # CLI) gets a normal return instead of a KeyboardInterrupt traceback.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        sock.close()


@contextlib.asynccontextmanager
async def serving(
    sandbox: Sandbox | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int = 0,
) -> AsyncIterator[str]:
    """
    Serve a sandbox on loopback for the length of an ``async with`` block.

    uvicorn runs in a background thread, so this works under asyncio and trio alike.

    Yields:
        The root URL, e.g. ``http://127.0.0.1:54321``; the vendors are under it as in
        `serve`.

    Raises:
        ConfigurationError: a non-loopback host, a bad port, or the port is taken.
        BackscrollError: uvicorn did not start.

    .. versionadded:: 0.1.0
    """
    if sandbox is None:
        from backscroll.sandbox._app import Sandbox  # noqa: PLC0415 - avoids an import cycle

        sandbox = Sandbox(seed=seed)
    sock = _bind(host, port, allow_remote=False)
    server = _uvicorn().Server(_config(sandbox.app, log_level="warning", quiet=True))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting task
            failure.append(exc)

    thread = threading.Thread(target=run, name="backscroll-sandbox", daemon=True)
    thread.start()
    try:
        await _wait_started(server, thread, failure)
        yield _url(sock)
    finally:
        server.should_exit = True
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(thread.join)
        sock.close()


async def _wait_started(
    server: Any, thread: threading.Thread, failure: list[BaseException]
) -> None:
    # Polling, because uvicorn offers no started event; a few milliseconds in practice.
    with anyio.move_on_after(_STARTUP_TIMEOUT):
        while not server.started:
            if not thread.is_alive():
                break
            await anyio.sleep(0.005)
    if not server.started:
        server.should_exit = True
        msg = "the sandbox server did not start"
        if failure:
            msg += f": {failure[0]!r}"
        raise BackscrollError(msg)
