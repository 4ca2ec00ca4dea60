"""A tiny random-weight Llama with a ChatML template (no generation markers), built offline in well under a second."""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
FRUITS = {"lime": "green", "banana": "yellow", "grape": "purple", "cherry": "red", "plum": "purple",
          "lemon": "yellow", "kiwi": "green", "orange": "orange", "apple": "red", "pear": "green"}


def corpus() -> list[str]:
    lines = []
    for fruit, colour in FRUITS.items():
        lines += [f"What color is the {fruit}?", f"The {fruit} is {colour}.", "You are a helpful assistant.",
                  "system user assistant"]
    return lines * 5


def build_tiny_model(path: Path, *, hidden: int = 64, layers: int = 2) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator(corpus(), trainers.BpeTrainer(
        vocab_size=400, min_frequency=2, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=None, eos_token="<|im_end|>", pad_token="<|pad|>",
                                     unk_token=None, additional_special_tokens=["<|im_start|>", "<|endoftext|>"],
                                     model_max_length=512)
    hf_tok.chat_template = CHATML
    import torch

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(hf_tok), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=True, bos_token_id=None, eos_token_id=hf_tok.eos_token_id,
                      pad_token_id=hf_tok.pad_token_id)
    model = LlamaForCausalLM(cfg)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return path


def fruit_rows(n: int, prefix: str = "ex") -> list[dict]:
    items = list(FRUITS.items())
    rows = []
    for i in range(n):
        fruit, colour = items[i % len(items)]
        rows.append({"id": f"{prefix}-{i}", "question_id": f"{prefix}-{i}", "group": colour,
                     "fields": {"text": f"What color is the {fruit}?"}, "target": f"The {fruit} is {colour}.",
                     "gold": colour, "meta": {}})
    return rows


def render_messages(row: dict) -> list[dict]:
    return [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": row["fields"]["text"]},
            {"role": "assistant", "content": row["target"]}]
