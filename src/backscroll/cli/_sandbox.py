"""``backscroll sandbox serve``: the fake vendor APIs on loopback, until Ctrl-C."""

# No `from __future__ import annotations`: typer reads these annotations at run time.

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from backscroll._registry import vendors
from backscroll.cli._options import UsageError
from backscroll.errors import ConfigurationError

if TYPE_CHECKING:
    from backscroll.sandbox import Sandbox

__all__ = ["serve"]

_FAULTS = "Faults (every vendor)"
_GROWTH = "Growth (for backscroll follow)"
#: Conversation ids shown per vendor that cannot list its own.
_SAMPLE_IDS = 3


def serve(
    *,
    host: Annotated[
        str, typer.Option("--host", help="A loopback address: 127.0.0.1, ::1 or localhost.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="The port; 0 picks a free one.")
    ] = 8765,
    seed: Annotated[
        int, typer.Option("--seed", help="Seeds the data: the same seed, the same history.")
    ] = 0,
    latency: Annotated[
        float,
        typer.Option(
            "--latency", min=0.0, help="Seconds every request waits.", rich_help_panel=_FAULTS
        ),
    ] = 0.0,
    error_rate: Annotated[
        float,
        typer.Option(
            "--error-rate",
            min=0.0,
            max=1.0,
            help="Share of requests answered 429, 500, 502 or 503.",
            rich_help_panel=_FAULTS,
        ),
    ] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option(
            "--drop-rate",
            min=0.0,
            max=1.0,
            help="Share of connections dropped mid-answer.",
            rich_help_panel=_FAULTS,
        ),
    ] = 0.0,
    truncate_rate: Annotated[
        float,
        typer.Option(
            "--truncate-rate",
            min=0.0,
            max=1.0,
            help="Share of JSON bodies cut in half.",
            rich_help_panel=_FAULTS,
        ),
    ] = 0.0,
    retry_after: Annotated[
        float,
        typer.Option(
            "--retry-after",
            min=0.0,
            help="Seconds announced in Retry-After on 429 and 503.",
            rich_help_panel=_FAULTS,
        ),
    ] = 1.0,
    quota: Annotated[
        float | None,
        typer.Option(
            "--quota",
            min=0.001,
            help="Requests per second each vendor serves; above it, 429 with Retry-After.",
            rich_help_panel=_FAULTS,
        ),
    ] = None,
    fault_seed: Annotated[
        int,
        typer.Option("--fault-seed", help="Seeds the fault plan.", rich_help_panel=_FAULTS),
    ] = 0,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            help="uvicorn's log level: debug, info, warning, error.",
        ),
    ] = "info",
    grow: Annotated[
        list[str] | None,
        typer.Option(
            "--grow",
            metavar="VENDOR:ID",
            help="Add messages to this conversation on a schedule (repeat for more).",
            show_default=False,
            rich_help_panel=_GROWTH,
        ),
    ] = None,
    grow_every: Annotated[
        float,
        typer.Option(
            "--grow-every", min=0.01, help="Seconds between growths.", rich_help_panel=_GROWTH
        ),
    ] = 5.0,
    grow_count: Annotated[
        int,
        typer.Option(
            "--grow-count",
            min=1,
            help="Messages (or interactions, where a vendor groups them) added each time.",
            rich_help_panel=_GROWTH,
        ),
    ] = 1,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help=(
                "Listen on a --host off loopback. Its credentials are public: anyone who "
                "reaches the port reads the fake history."
            ),
        ),
    ] = False,
) -> None:
    """
    Serve the sandbox's fake vendor APIs on loopback, until Ctrl-C.

    For example:

        backscroll sandbox serve

        backscroll sandbox serve --port 0 --error-rate 0.2 --latency 0.05

        backscroll sandbox serve --grow cursor:con_9s2kd81 --grow-every 2

    Then point backscroll (or curl, or your code) at it, for example:

        EXAMPLE_AI_API_KEY=sk_test_sandbox backscroll export cursor
        --base-url http://127.0.0.1:8765/cursor/v1 --id con_9s2kd81 --out cursor.jsonl

    Needs the sandbox extra: pip install 'backscroll[cli,sandbox]'.
    """
    try:
        from backscroll import sandbox  # noqa: PLC0415 - the sandbox extra, on demand
    except ImportError:
        msg = "backscroll sandbox serve needs the sandbox extra: pip install 'backscroll[sandbox]'"
        raise UsageError(msg) from None
    if log_level.lower() not in {"critical", "error", "warning", "info", "debug", "trace"}:
        msg = f"--log-level takes debug, info, warning or error; got {log_level!r}"
        raise UsageError(msg)
    faults = sandbox.Faults(
        rate=error_rate,
        drop=drop_rate,
        truncate=truncate_rate,
        latency=latency,
        retry_after=retry_after,
        quota=quota,
        seed=fault_seed,
    )
    noisy = faults != sandbox.Faults(retry_after=retry_after, seed=fault_seed)
    served = sandbox.Sandbox(seed=seed)
    if noisy:
        for name in served.fakes:
            served.set_faults(name, faults)
    growing = _growth(served, grow or [], grow_every, grow_count)

    def ready(url: str) -> None:
        lines = [f"backscroll sandbox (seed {seed}) serving on {url}"]
        lines += _banner(served, url)
        lines.append("These credentials are the sandbox's own, public. Press Ctrl-C to stop.")
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        sys.stdout.flush()

    try:
        sandbox.serve(
            host=host,
            port=port,
            sandbox=served,
            log_level=log_level.lower(),
            on_ready=ready,
            allow_remote=allow_remote,
        )
    except ImportError:
        msg = "backscroll sandbox serve needs uvicorn: pip install 'backscroll[sandbox]'"
        raise UsageError(msg) from None
    finally:
        if growing is not None:
            growing.set()


def _growth(served: Any, specs: list[str], every: float, count: int) -> Any:
    """Start growing the ``--grow`` conversations; the event that stops it (or ``None``)."""
    if not specs:
        return None
    from backscroll.sandbox._grow import Growth  # noqa: PLC0415 - the sandbox extra

    try:
        growth = Growth.parse(specs, every=every, count=count)
        growth.check(served)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    return growth.in_thread(served)


def _banner(served: "Sandbox", url: str) -> list[str]:
    """A line per fake: its base URL and settings, and ids to try where it cannot list."""
    registered = vendors()
    width = max((len(name) for name in served.fakes), default=0)
    roots = {name: f"{url}{fake.api_root}" for name, fake in served.fakes.items()}
    root_width = max((len(root) for root in roots.values()), default=0)
    lines = []
    for name, fake in served.fakes.items():
        vendor = registered[name]
        options = fake.provider_options()
        settings = " ".join(
            f"{setting.env_var}={options[setting.parameter]}"
            for setting in vendor.all_settings
            if setting.parameter in options
        )
        lines.append(f"  {name:<{width}}  {roots[name]:<{root_width}}  {settings}")
        if not vendor.lists_conversations:
            ids = fake.store.conversation_ids()[:_SAMPLE_IDS]
            if ids:
                lines.append(f"  {'':<{width}}  ids to try: {' '.join(ids)}")
    return lines
