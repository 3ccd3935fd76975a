"""The vendors' documented sample payloads, verbatim (see shared/seeds), for the tests."""

from __future__ import annotations

from typing import Any

CONVAI_LIST: list[dict[str, Any]] = [
    {
        "sessionID": "c1234567890aba1111222233334447862",
        "date": "25-09-2024",
        "time": "20:52:57",
        "is_added_to_memory": False,
    },
    {
        "sessionID": "8c123456789011111222223333344455",
        "date": "25-09-2024",
        "time": "19:54:56",
        "is_added_to_memory": False,
    },
]

CONVAI_DETAILS: list[dict[str, Any]] = [
    {
        "timestamp": "2024-09-25 19:54:59.124733",
        "interaction": [
            {"speaker": "User", "message": "Hi there"},
            {
                "speaker": "Character",
                "message": "Hi there, Welcome to the History Museum. We have the most ancient "
                "fossil ever discovered. Would be interesting in taking a tour?",
            },
        ],
        "is_trigger_input": False,
    }
]

CONVAI_DELETE = {"status": "SUCCESSFULLY DELETED"}
CONVAI_ERROR = {"ERROR": "Invalid API key provided."}

TALKIFAI_PAGE: dict[str, Any] = {
    "messages": [
        {
            "role": "assistant",
            "content": "Hello! How can I help you today?",
            "timestamp": "2024-01-15T10:00:00+00:00",
            "token_count": None,
        },
        {
            "role": "user",
            "content": "What services do you offer?",
            "timestamp": "2024-01-15T10:00:05+00:00",
            "token_count": None,
        },
        {
            "role": "assistant",
            "content": "We offer a wide range of services including...",
            "timestamp": "2024-01-15T10:00:06+00:00",
            "token_count": 45,
        },
        {
            "role": "user",
            "content": "What are your pricing plans?",
            "timestamp": "2024-01-15T10:00:15+00:00",
            "token_count": None,
        },
        {
            "role": "assistant",
            "content": "Our pricing plans are as follows...",
            "timestamp": "2024-01-15T10:00:16+00:00",
            "token_count": 120,
        },
    ],
    "count": 5,
}

CURSOR_PAGE: dict[str, Any] = {
    "status": "success",
    "message": "Chat history retrieved successfully.",
    "data": {
        "conversation_id": "con_9s2kd81",
        "messages": [
            {
                "id": "msg_92kd82",
                "sender_type": "user",
                "sender_id": "usr_82hd92",
                "text": "Hey, can you summarize today's calls?",
                "metadata": {"channel": "web", "attachments": []},
                "created_at": "2026-03-15T13:59:11Z",
            },
            {
                "id": "msg_18dk03",
                "sender_type": "ai",
                "sender_id": "ai_default_bot",
                "text": "Sure, you had 12 inbound and 5 outbound calls today.",
                "metadata": {"model": "gpt-4o-mini", "latency_ms": 743},
                "created_at": "2026-03-15T14:00:01Z",
            },
        ],
    },
    "pagination": {"limit": 20, "next_cursor": "2026-03-15T13:30:00Z", "has_more": True},
}
