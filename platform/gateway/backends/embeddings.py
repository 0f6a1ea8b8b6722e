"""sentence-transformers embeddings from a local directory, offline."""

import os
import threading
from pathlib import Path

# Set before sentence-transformers and huggingface_hub are imported: never reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from sentence_transformers import SentenceTransformer

from gateway.backends.base import Embeddings

BATCH_SIZE = 64


class SentenceTransformerBackend:
    def __init__(self, path: Path) -> None:
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        # One encode at a time: torch already uses every core for one batch.
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> Embeddings:
        with self._lock:
            features = self.model.preprocess(texts)
            vectors = self.model.encode(
                texts, batch_size=BATCH_SIZE, convert_to_numpy=True, show_progress_bar=False
            )
        tokens = int(features["attention_mask"].sum())
        return Embeddings(vectors=np.asarray(vectors, dtype=np.float32), prompt_tokens=tokens)
