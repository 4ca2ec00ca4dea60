"""Padding-free LoRA training pieces, now in the package (``baseweight_assets/training/packing.py``).

Kept as a re-export so that older commands (``import packed_training as pt``) still run; the trainer and the GPU
benchmark import the package module, so the code measured is the code the ``lora_adapter`` asset calls.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseweight_assets.training.packing import (  # noqa: E402,F401
    ATTN_NAME,
    IGNORE_INDEX,
    PACK,
    ChunkedLinearCrossEntropy,
    PackedBatch,
    chunked_lm_loss,
    greedy_pack,
    pack_documents,
    packed_lm_loss,
    packed_varlen_attention,
    prepare_packed_model,
    register_packed_attention,
    set_pack_context,
    varlen_available,
)
