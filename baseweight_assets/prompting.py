"""Prompt templates in ``prompts/<task>/`` (``system.j2``, ``user.j2``) -> chat messages and hashes.

Templates are Jinja2 with StrictUndefined, so a missing variable fails on render instead of
leaving a blank in the prompt. Variables: the example's fields (also as ``fields``), ``labels``
and ``task`` (id, name, description).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import jinja2

from baseweight_assets.config.schema import TaskConfig
from baseweight_assets.storage.hashing import stable_hash

TEMPLATE_FILES = ("system.j2", "user.j2")


class PromptError(ValueError):
    """A prompt folder or template is missing or does not render; the message names the file."""


def messages_hash(messages: list[dict]) -> str:
    return stable_hash([[m["role"], m["content"]] for m in messages])


@dataclass(frozen=True)
class PromptTemplate:
    task: dict
    labels: list[str] | None
    sources: dict[str, str]
    hash: str

    @classmethod
    def load(cls, prompts_dir: Path, task: TaskConfig, labels: list[str] | None) -> PromptTemplate:
        folder = Path(prompts_dir) / task.prompt_dir
        sources, digest = {}, hashlib.sha256()
        for name in TEMPLATE_FILES:
            path = folder / name
            if not path.is_file():
                raise PromptError(f"{path}: prompt template not found")
            sources[name] = path.read_text(encoding="utf-8")
            digest.update(name.encode() + b"\0" + sources[name].encode("utf-8") + b"\0")
        template = cls({"id": task.id, "name": task.name, "description": task.description},
                       list(labels) if labels else None, sources, digest.hexdigest())
        for name in TEMPLATE_FILES:
            template._compiled(name)  # syntax errors surface at load time, naming the file
        return template

    def _compiled(self, name: str) -> jinja2.Template:
        cache = self.__dict__.setdefault("_cache", {})
        if name not in cache:
            env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                                     trim_blocks=True, lstrip_blocks=True, autoescape=False)
            try:
                cache[name] = env.from_string(self.sources[name])
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(f"prompts/{self.task['id']}/{name}: line {exc.lineno}: {exc.message}") from None
        return cache[name]

    def _render(self, name: str, fields: dict) -> str:
        try:
            return self._compiled(name).render(**fields, fields=fields, labels=self.labels, task=self.task).strip()
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompts/{self.task['id']}/{name}: {exc.message} (fields: {sorted(fields)})") from None
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            raise PromptError(f"prompts/{self.task['id']}/{name}: cannot render ({exc})") from None

    def render_system(self) -> str:
        return self._render("system.j2", {})

    def render_user(self, example: dict) -> str:
        return self._render("user.j2", example["fields"])

    def render_target(self, example: dict) -> str:
        return example["target"]

    def render_messages(self, example: dict, few_shot: list[dict] = ()) -> list[dict]:
        """system, then (user, assistant) per shot, then the query's user turn."""
        messages = [{"role": "system", "content": self.render_system()}]
        for shot in few_shot:
            messages.append({"role": "user", "content": self.render_user(shot)})
            messages.append({"role": "assistant", "content": self.render_target(shot)})
        messages.append({"role": "user", "content": self.render_user(example)})
        return messages

    def render_training_messages(self, example: dict) -> list[dict]:
        """The chat a LoRA adapter is trained on: the zero-shot prompt followed by the target as the answer."""
        return [*self.render_messages(example), {"role": "assistant", "content": self.render_target(example)}]
