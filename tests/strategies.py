"""Hypothesis strategies for the models, shared by the converter and model tests."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

from backscroll import Conversation, Message, Role

__all__ = ["aware_datetimes", "conversations", "json_objects", "json_values", "messages"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=5)
# Any zone, fold and gap times included. Years 1 and 9999 are left out: shifting them to
# UTC can leave the range datetime holds.
aware_datetimes = st.datetimes(
    min_value=datetime(2, 1, 1),  # noqa: DTZ001 - bounds of a strategy, zones come below
    max_value=datetime(9998, 12, 31),  # noqa: DTZ001
    timezones=st.timezones(),
)

messages = st.builds(
    Message,
    id=st.text(),
    conversation_id=st.text(),
    role=st.sampled_from(Role),
    content=st.text(),
    created_at=st.none() | aware_datetimes,
    provider=st.text(),
    sender_id=st.none() | st.text(),
    token_count=st.none() | st.integers(),
    metadata=json_objects,
    raw=st.none() | json_objects,
)
conversations = st.builds(
    Conversation,
    id=st.text(),
    provider=st.text(),
    created_at=st.none() | aware_datetimes,
    metadata=json_objects,
    raw=st.none() | json_objects,
)
