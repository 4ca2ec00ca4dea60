"""One streamed chat completion: output, exact token counts from usage, latency, TTFT, mean logprob."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from baseweight_assets.inference.endpoint import Endpoint
from baseweight_assets.inference.requests import split_body
from baseweight_assets.inference.retry import IncompleteStreamError

if TYPE_CHECKING:
    from openai import AsyncOpenAI


@dataclass(frozen=True)
class CallResult:
    output: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    ttft_s: float | None
    avg_logprob: float | None
    finish_reason: str  # the API's: "stop", or "length" when the token limit cut the output
    cached_input_tokens: int = 0  # the part of input_tokens served from the provider's prompt cache


def make_client(endpoint: Endpoint, timeout_s: float) -> AsyncOpenAI:
    from openai import AsyncOpenAI  # on first use: every Dagster run imports this module, few call an API

    # max_retries=0: our own retry loop owns backoff, Retry-After, the breaker and the attempt count.
    return AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key(), timeout=timeout_s, max_retries=0)


async def stream_chat(client: AsyncOpenAI, body: dict, timeout_s: float) -> CallResult:
    """Send ``body`` streamed with usage; raise on a timeout or a stream that ends without finish + usage."""
    named, extra = split_body(body)
    start = time.perf_counter()
    ttft = None
    parts: list[str] = []
    logprobs: list[float] = []
    usage = None
    finish = None
    async with asyncio.timeout(timeout_s):
        stream = await client.chat.completions.create(
            **named, stream=True, stream_options={"include_usage": True}, extra_body=extra or None)
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices or []:
                    text = choice.delta.content if choice.delta else None
                    if text:
                        if ttft is None:
                            ttft = time.perf_counter() - start
                        parts.append(text)
                    if choice.logprobs is not None and choice.logprobs.content:
                        logprobs.extend(t.logprob for t in choice.logprobs.content)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        finally:
            await stream.close()
    latency = time.perf_counter() - start
    if finish is None:
        raise IncompleteStreamError(f"stream ended after {len(parts)} content chunks without a finish_reason")
    if usage is None:
        raise IncompleteStreamError("stream ended without a usage chunk (token counts would be guesses)")
    details = getattr(usage, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", None) or 0)
    return CallResult(
        output="".join(parts),
        input_tokens=int(usage.prompt_tokens),
        output_tokens=int(usage.completion_tokens),
        latency_s=latency,
        ttft_s=ttft,
        avg_logprob=sum(logprobs) / len(logprobs) if logprobs else None,
        finish_reason=finish,
        cached_input_tokens=min(cached, int(usage.prompt_tokens)),
    )
