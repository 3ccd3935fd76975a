"""
Adapters from backscroll's `Message` to the message types of LLM frameworks.

One module per target, each importable on its own:

- `backscroll.integrations.openai`: OpenAI chat-completions messages and Responses input
  items (no extra needed; typed with openai's own types);
- `backscroll.integrations.langchain`: LangChain messages, a chat message history and a
  chat loader (``pip install 'backscroll[langchain]'``);
- `backscroll.integrations.langgraph`: vendor history loaded into a graph thread, and a
  read-only store (``pip install 'backscroll[langgraph]'``);
- `backscroll.integrations.pydantic_ai`: pydantic-ai ``ModelRequest``/``ModelResponse``
  history (``pip install 'backscroll[pydantic-ai]'``);
- `backscroll.integrations.llama_index`: LlamaIndex ``ChatMessage`` lists
  (``pip install 'backscroll[llama-index]'``);
- `backscroll.integrations.openai_agents`: an OpenAI Agents SDK session
  (``pip install 'backscroll[openai-agents]'``);
- `backscroll.integrations.agent_framework`: a Microsoft Agent Framework history provider
  (``pip install 'backscroll[agent-framework]'``);
- `backscroll.integrations.dlt`: a dlt source, incremental per conversation, for every
  warehouse dlt loads (``pip install 'backscroll[dlt]'``).

Importing a module whose framework is missing raises `backscroll.errors.MissingExtraError`
(an `ImportError`) naming the extra to install. This package itself imports no framework.

Every adapter maps `Role.USER`, `Role.ASSISTANT` and `Role.SYSTEM` onto the framework's own
speakers, keeps the order it is given, and treats `Role.UNKNOWN` and `Role.TOOL` alike, by
its ``unmapped`` option: a backscroll message carries no tool call, so a tool result could
never be paired with the call it answers, which model APIs reject and frameworks drop.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

__all__: list[str] = []
