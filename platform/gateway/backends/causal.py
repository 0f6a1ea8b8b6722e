"""A local Hugging Face causal language model from a directory, offline."""

import os
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
)

from gateway.backends.base import ChatParams, Completion, Emit, Message
from gateway.errors import bad_request


class _Collector(StoppingCriteria):
    """Decodes the new tokens as they come, emits whole pieces and stops at a stop string."""

    def __init__(self, tokenizer: Any, prompt_len: int, params: ChatParams, emit: Emit | None):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stop = params.stop
        self.emit = emit
        self.text = ""
        self.sent = 0
        self.stopped = False

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> Any:
        new = input_ids[0, self.prompt_len :]
        self.text = self.tokenizer.decode(new, skip_special_tokens=True)
        cut = min((i for s in self.stop if (i := self.text.find(s)) >= 0), default=-1)
        if cut >= 0:
            self.text = self.text[:cut]
            self.stopped = True
        # A trailing replacement character is half a multi-byte character: wait for the rest.
        ready = self.text if self.stopped else self.text.rstrip("\ufffd")
        if self.emit and len(ready) > self.sent:
            self.emit(ready[self.sent :])
            self.sent = len(ready)
        return torch.full((input_ids.shape[0],), self.stopped, dtype=torch.bool)


class CausalLMBackend:
    def __init__(self, path: Path) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
        self.model.eval()
        self._lock = threading.Lock()

    def _prompt(self, messages: list[Message]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(
                self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True
                )
            )
        # Base models without a chat template: a plain transcript ending with the cue.
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def chat(self, messages: list[Message], params: ChatParams, emit: Emit | None) -> Completion:
        return self.complete(self._prompt(messages), params, emit)

    def complete(self, prompt: str, params: ChatParams, emit: Emit | None) -> Completion:
        if params.response_format is not None:
            raise bad_request(
                "This model's backend cannot constrain its output to a format: "
                "drop `response_format`, or use a model served by llama.cpp.",
                param="response_format",
            )
        inputs = self.tokenizer(prompt, return_tensors="pt")
        prompt_len = int(inputs["input_ids"].shape[1])
        collector = _Collector(self.tokenizer, prompt_len, params, emit)
        sampling = params.temperature > 0
        kwargs: dict[str, Any] = {"do_sample": sampling}
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        pad = self.tokenizer.pad_token_id
        with self._lock, torch.inference_mode():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            output = self.model.generate(
                **inputs,
                max_new_tokens=params.max_tokens,
                stopping_criteria=StoppingCriteriaList([collector]),
                pad_token_id=pad if pad is not None else self.tokenizer.eos_token_id,
                **kwargs,
            )
        generated = int(output.shape[1]) - prompt_len
        if collector.emit and len(collector.text) > collector.sent:
            collector.emit(collector.text[collector.sent :])
        finish = "length" if generated >= params.max_tokens and not collector.stopped else "stop"
        return Completion(collector.text, prompt_len, generated, finish)
