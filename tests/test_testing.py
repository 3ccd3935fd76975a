"""The public testing switch: no waits while it is on, and it restores what it changed."""

from __future__ import annotations

import anyio
import httpx
import pytest

import backscroll.testing
from backscroll import CursorProvider, errors

pytestmark = pytest.mark.anyio


def test_set_testing_as_a_context_manager_restores_the_mode() -> None:
    """set_testing() sets the mode at once; leaving its block restores the previous one."""
    assert not backscroll.testing.is_testing()
    with backscroll.testing.set_testing(True):
        assert backscroll.testing.is_testing()
        with backscroll.testing.set_testing(False):
            assert not backscroll.testing.is_testing()
        assert backscroll.testing.is_testing()
    assert not backscroll.testing.is_testing()


async def test_testing_mode_skips_retry_waits_but_not_retries() -> None:
    """With testing on, a 60-second Retry-After is not waited, and the retries still happen."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "60"}, json={"message": "slow"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with CursorProvider(api_key="sk_test_123456", http_client=client) as provider:
        with (
            anyio.fail_after(30),  # a failsafe: without the switch this would wait 120 s
            backscroll.testing.set_testing(True),
            pytest.raises(errors.RateLimitError) as info,
        ):
            [m async for m in provider.messages("c1")]
    assert len(seen) == 3
    assert provider.retries == 2
    assert info.value.retry_after == 60.0
