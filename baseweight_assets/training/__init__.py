"""LoRA/QLoRA training: backends, chat rendering with assistant-only labels, resume, metadata, serving folder."""
