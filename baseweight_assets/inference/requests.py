"""Prediction requests: one per test example, with the exact body sent and the hash that keys the cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from baseweight_assets.conditions import FIVE_SHOT, check_condition
from baseweight_assets.config.schema import ModelConfig, TaskConfig
from baseweight_assets.inference.structured import label_json_schema
from baseweight_assets.storage.hashing import stable_hash
from baseweight_assets.tasks import kind_of

if TYPE_CHECKING:
    from baseweight_assets.inference.endpoint import Endpoint

# Keys the openai client accepts as named arguments; everything else travels in extra_body.
STANDARD_KEYS = ("model", "messages", "temperature", "max_tokens", "max_completion_tokens", "logprobs",
                 "response_format")


@dataclass(frozen=True)
class PredictionRequest:
    example_id: str
    question_id: str
    messages: list[dict]
    max_tokens: int
    response_format: dict | None  # OpenAI json_schema for closed labels (when constrained + supported)
    guided_choice: list[str] | None  # vLLM structured output for closed labels
    extra_body: dict = field(default_factory=dict)  # chat_template_kwargs, reasoning_effort, ...
    prompt_hash: str = ""
    few_shot_hash: str = ""


def build_requests(task: TaskConfig, prepared: dict, prompt: Any,  # baseweight_assets.prompting.PromptTemplate
 model: ModelConfig, condition: str, *,
                   max_tokens: int, constrained: bool, endpoint: Endpoint) -> list[PredictionRequest]:
    """One request per test_pool row whose question_id is in any of ``prepared["test_seeds"]``."""
    check_condition(condition)
    wanted = {qid for seed in prepared["test_seeds"] for qid in seed}
    few_shot = list(prepared["splits"]["few_shot"]) if condition == FIVE_SHOT else []
    if condition == FIVE_SHOT and not few_shot:
        raise ValueError(f"task {task.id}: condition 5-shot but prepared['splits']['few_shot'] is empty")
    # The task's kind says which outputs a constrained decoder may produce (closed labels), or None (free text).
    allowed = kind_of(task).allowed_outputs(task, prepared.get("labels") or task.labels) if constrained else None
    # vLLM: a bare label via guided choice (as the original); OpenAI: {"label": X} via strict JSON schema.
    guided = list(allowed) if allowed and endpoint.supports_guided_choice else None
    response_format = label_json_schema(allowed) if allowed and endpoint.supports_json_schema and not guided else None
    extra: dict = {}
    if model.chat_template_kwargs and endpoint.served_by != "openai":
        extra["chat_template_kwargs"] = dict(model.chat_template_kwargs)
    if model.reasoning_effort and endpoint.served_by == "openai":
        extra["reasoning_effort"] = model.reasoning_effort
    out = []
    for example in prepared["splits"]["test_pool"]:
        if example["question_id"] not in wanted:
            continue
        out.append(PredictionRequest(
            example_id=example["id"],
            question_id=example["question_id"],
            messages=prompt.render_messages(example, few_shot),
            max_tokens=max_tokens,
            response_format=response_format,
            guided_choice=guided,
            extra_body=extra,
            prompt_hash=prompt.hash,
            few_shot_hash=prepared["few_shot_hash"] if condition == FIVE_SHOT else "",
        ))
    missing = wanted - {r.question_id for r in out}
    if missing:
        raise ValueError(f"task {task.id}: {len(missing)} test_seeds question ids are not in test_pool, "
                         f"e.g. {sorted(missing)[:3]}")
    return out


def request_body(request: PredictionRequest, endpoint: Endpoint) -> dict:
    """The exact chat-completions body (non-streaming part) sent for ``request`` to ``endpoint``."""
    # OpenAI reasoning models reject `max_tokens`; vLLM and transformers serve take the classic name.
    max_key = "max_completion_tokens" if endpoint.served_by == "openai" else "max_tokens"
    body: dict = {"model": endpoint.model, "messages": request.messages, "temperature": 0,
                  max_key: request.max_tokens}
    if endpoint.supports_logprobs:
        body["logprobs"] = True
    if request.response_format is not None:
        body["response_format"] = request.response_format
    if request.guided_choice is not None:
        body["structured_outputs"] = {"choice": request.guided_choice}  # vLLM >= 0.12 (guided_choice removed)
    body.update(request.extra_body)
    return body


def request_hash(request: PredictionRequest, endpoint: Endpoint) -> str:
    """sha256 over the model identity, the example id and the full body: the cache and resume key."""
    payload = {"identity": endpoint.identity, "example_id": request.example_id,
               "body": request_body(request, endpoint)}
    return stable_hash(payload)


def split_body(body: dict) -> tuple[dict, dict]:
    """(named arguments for ``chat.completions.create``, extra_body)."""
    named = {k: v for k, v in body.items() if k in STANDARD_KEYS}
    extra = {k: v for k, v in body.items() if k not in STANDARD_KEYS}
    return named, extra
