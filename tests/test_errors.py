from __future__ import annotations

import pickle

import pytest

from backscroll import errors

# Each documented class and its direct base, as API.md and the errors module docstring draw
# them. Later additions must still derive from BackscrollError (checked below).
TREE = {
    errors.BackscrollError: Exception,
    errors.APIConnectionError: errors.BackscrollError,
    errors.APITimeoutError: errors.APIConnectionError,
    errors.APIStatusError: errors.BackscrollError,
    errors.BadRequestError: errors.APIStatusError,
    errors.AuthenticationError: errors.APIStatusError,
    errors.PermissionDeniedError: errors.APIStatusError,
    errors.NotFoundError: errors.APIStatusError,
    errors.RateLimitError: errors.APIStatusError,
    errors.ServerError: errors.APIStatusError,
    errors.ResponseFormatError: errors.BackscrollError,
    errors.PaginationError: errors.BackscrollError,
    errors.ConfigurationError: errors.BackscrollError,
    errors.ConversionError: errors.BackscrollError,
}
STATUS_CLASSES = [
    errors.APIStatusError,
    errors.BadRequestError,
    errors.AuthenticationError,
    errors.PermissionDeniedError,
    errors.NotFoundError,
    errors.RateLimitError,
    errors.ServerError,
]


@pytest.mark.parametrize(("cls", "base"), TREE.items(), ids=lambda c: c.__name__)
def test_each_error_has_its_documented_base(cls: type[Exception], base: type[Exception]) -> None:
    """Every error class derives from exactly the base the documented tree gives it."""
    assert cls.__bases__[0] is base


def test_every_exported_error_is_a_backscroll_error() -> None:
    """errors.__all__ is sorted, holds the documented tree, and only BackscrollErrors."""
    assert errors.__all__ == sorted(errors.__all__)
    assert {cls.__name__ for cls in TREE} <= set(errors.__all__)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.BackscrollError), name


@pytest.mark.parametrize("cls", [errors.ConfigurationError, errors.ConversionError])
def test_input_errors_are_also_value_errors(cls: type[Exception]) -> None:
    """ConfigurationError and ConversionError are ValueErrors too (and only those two)."""
    assert issubclass(cls, ValueError)
    others = set(TREE) - {errors.ConfigurationError, errors.ConversionError}
    # In particular no API or format error: `except ValueError` must not swallow those.
    assert not any(issubclass(other, ValueError) for other in others)


def test_timeout_is_caught_as_a_connection_error() -> None:
    """An APITimeoutError is handled by `except APIConnectionError`."""
    with pytest.raises(errors.APIConnectionError):
        raise errors.APITimeoutError("slow")


@pytest.mark.parametrize("cls", STATUS_CLASSES, ids=lambda c: c.__name__)
def test_status_errors_carry_their_attributes(cls: type[errors.APIStatusError]) -> None:
    """Status errors keep status_code, provider, request_id and vendor_message."""
    exc = cls(
        "talkifai answered 404",
        status_code=404,
        provider="talkifai",
        request_id="req_1",
        vendor_message="Session not found or expired",
    )
    assert (exc.status_code, exc.provider, exc.request_id, exc.vendor_message) == (
        404,
        "talkifai",
        "req_1",
        "Session not found or expired",
    )
    assert str(exc) == "talkifai answered 404"


def test_request_id_and_vendor_message_default_to_none() -> None:
    """Without a request id or vendor text, both attributes are None."""
    exc = errors.ServerError("boom", status_code=503, provider="cursor")
    assert exc.request_id is None
    assert exc.vendor_message is None


@pytest.mark.parametrize("cls", STATUS_CLASSES, ids=lambda c: c.__name__)
def test_status_errors_survive_pickling(cls: type[errors.APIStatusError]) -> None:
    """A status error crosses a process boundary with its class and attributes."""
    exc = cls("msg", status_code=429, provider="convai", request_id="r", vendor_message="slow")
    back = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
    assert type(back) is cls
    assert (str(back), back.status_code, back.provider, back.request_id) == (
        "msg",
        429,
        "convai",
        "r",
    )
    assert back.vendor_message == "slow"


def test_status_error_attributes_are_keyword_only() -> None:
    """status_code and provider cannot be passed positionally, so they cannot be swapped."""
    with pytest.raises(TypeError):
        errors.APIStatusError("msg", 404, "convai")  # type: ignore[call-arg]
