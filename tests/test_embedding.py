import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from memories import embedding, embedding_onnx
from memories.checks import embedding_model_present


def test_embeddings_are_384_dimensional_unit_vectors():
    vectors = embedding.embed_texts(["User loves green tea", "User has a cat"])
    assert len(vectors) == 2
    for vector in vectors:
        assert np.asarray(vector).shape == (384,)
        assert abs(np.linalg.norm(vector) - 1.0) < 1e-4


def test_a_batch_gives_the_same_vectors_as_single_calls():
    texts = ["User plays the violin", "User's favourite city is Kyoto", "User runs every morning"]
    batch = np.array(embedding.embed_texts(texts))
    singles = np.array([embedding.embed_query(text) for text in texts])
    if "bf16" in embedding.get_embedder().precision:  # batches run in bfloat16 on this CPU, single texts not
        assert ((batch * singles).sum(axis=1) > 0.9999).all()
    else:
        assert np.allclose(batch, singles, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones():
    tea, green_tea, car = np.array(
        embedding.embed_texts(["User drinks tea", "User likes green tea", "User repairs cars"])
    )
    assert tea @ green_tea > tea @ car + 0.2


def test_the_model_is_loaded_once_per_process():
    assert embedding.get_embedder() is embedding.get_embedder()


def test_missing_model_files_fail_loudly(tmp_path, settings):
    (tmp_path / "config.json").write_text("{}")
    settings.EMBEDDING_MODEL_DIR = str(tmp_path)
    with pytest.raises(ImproperlyConfigured, match="model.safetensors"):
        embedding.LocalSentenceTransformer(tmp_path, batch_size=8)
    errors = embedding_model_present(None)
    assert [error.id for error in errors] == ["memories.E001"]
    assert errors[0].level == checks.ERROR and "tokenizer.json" in errors[0].msg


def test_the_installed_model_passes_the_start_up_check():
    assert embedding_model_present(None) == []


def test_bf16_is_chosen_only_on_cpus_that_have_it():
    assert embedding.cpu_has_native_bf16("flags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
    assert embedding.cpu_has_native_bf16("flags : fpu amx_bf16 amx_tile\n")
    assert not embedding.cpu_has_native_bf16("flags\t\t: fpu sse avx2 avx512f\n")
    assert embedding.resolved_precision("fp32") == "fp32"
    assert embedding.resolved_precision("bf16") == "bf16"
    assert embedding.resolved_precision("auto") == ("bf16" if embedding.cpu_has_native_bf16() else "fp32")


def test_bf16_vectors_agree_with_float32():
    texts = ["User loves green tea", "User drives an old blue pickup truck", "User is allergic to peanuts"]
    fp32 = embedding.LocalSentenceTransformer(embedding.model_dir(), batch_size=8, precision="fp32")
    bf16 = embedding.LocalSentenceTransformer(embedding.model_dir(), batch_size=8, precision="bf16")
    a, b = np.array(fp32.embed(texts)), np.array(bf16.embed(texts))
    assert a.dtype == b.dtype == np.float32
    assert ((a * b).sum(axis=1) > 0.999).all()


# --- backends: torch and ONNX Runtime (issue #15) ---------------------------------------------

ROOT = Path(__file__).resolve().parent.parent

# A sitecustomize that refuses every outgoing connection and name lookup and notes each attempt.
NO_NETWORK = """
import os, socket
_log = os.environ["NETWORK_ATTEMPTS_LOG"]
def _refuse(*args, **kwargs):
    with open(_log, "a") as handle:
        handle.write(repr(args[:2]) + "\\n")
    raise OSError("network access is not allowed in this test")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""


def sample_texts() -> list[str]:
    """A fixed sample of LOCOMO turns and questions, plus edge cases: an empty text, a text beyond
    the model's 256 tokens (truncated alike), accents and emoji."""
    data = json.loads((ROOT / "benchmarks" / "data" / "locomo10.json").read_text())
    turns = [turn["text"] for turn in data[0]["conversation"]["session_1"]][:60]
    questions = [qa["question"] for qa in data[1]["qa"]][:40]
    long_text = " ".join(turns) * 3
    return turns + questions + ["", long_text, "Crème brûlée in Zürich 🍮 with Zoë", "a"]


@pytest.fixture(scope="module")
def onnx_export(tmp_path_factory):
    """The install step, run as `make install` runs it, in a process that may not touch the network."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    hooks = tmp_path_factory.mktemp("no-network")
    (hooks / "sitecustomize.py").write_text(NO_NETWORK)
    attempts = hooks / "attempts.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "EMBEDDING_ONNX"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(hooks), env.get("PYTHONPATH", "")])),
        NETWORK_ATTEMPTS_LOG=str(attempts),
        HF_HOME=str(hooks / "hf-home"),  # an empty hub cache: the model can only come from its package
    )
    result = subprocess.run(
        [sys.executable, "-m", "memories.embedding_onnx", "--cache-dir", str(cache)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {"cache": cache, "result": result, "attempts": attempts, "hf_home": hooks / "hf-home"}


def test_the_export_is_made_offline_and_only_once(onnx_export):
    result = onnx_export["result"]
    assert result.returncode == 0, result.stderr
    exports = [path for path in onnx_export["cache"].iterdir() if not path.name.startswith(".")]
    assert len(exports) == 1
    (export,) = exports
    assert export.name == embedding_onnx.export_key(embedding.model_dir())
    assert (export / "model.onnx").stat().st_size > 50_000_000
    assert json.loads((export / "export.json").read_text())["model"] == "all-MiniLM-L6-v2"
    assert str(export / "model.onnx") in result.stdout
    # Nothing was fetched: no connection was even tried, and the hub cache stayed empty.
    assert not onnx_export["attempts"].exists(), onnx_export["attempts"].read_text()
    assert not onnx_export["hf_home"].exists() or not any(onnx_export["hf_home"].rglob("*.safetensors"))
    # No scratch directory left behind; asking again reuses the export without tracing anything.
    assert not [p for p in onnx_export["cache"].iterdir() if p.is_dir() and p.name.startswith(".")]
    before = (export / "model.onnx").stat().st_mtime_ns
    assert embedding_onnx.ensure_export(embedding.model_dir(), [onnx_export["cache"]]) == export / "model.onnx"
    assert (export / "model.onnx").stat().st_mtime_ns == before


@pytest.fixture(scope="module")
def onnx_model(onnx_export):
    assert onnx_export["result"].returncode == 0, onnx_export["result"].stderr
    return embedding.LocalOnnxModel(embedding.model_dir(), batch_size=16, cache_roots=[onnx_export["cache"]])


def test_onnx_vectors_agree_with_torch(onnx_model):
    texts = sample_texts()
    fp32 = embedding.LocalSentenceTransformer(embedding.model_dir(), batch_size=16, precision="fp32")
    onnx = np.array(onnx_model.embed(texts))
    assert onnx.dtype == np.float32 and onnx.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)
    torch_fp32 = np.array(fp32.embed(texts))
    assert ((onnx * torch_fp32).sum(axis=1) > 0.9999).all()
    # The torch model as `serve` would pick it today: bf16 on CPUs that have it, else that same fp32 model.
    if (precision := embedding.resolved_precision("auto")) == "fp32":
        today = torch_fp32
    else:
        today = np.array(
            embedding.LocalSentenceTransformer(embedding.model_dir(), batch_size=16, precision=precision).embed(texts)
        )
    assert ((onnx * today).sum(axis=1) > 0.999).all()
    # Batches with padding give what single texts give.
    singles = np.array([onnx_model.embed([text])[0] for text in texts[:12]])
    assert np.allclose(onnx[:12], singles, atol=1e-5)


def test_a_batch_split_across_threads_gives_the_same_vectors(onnx_export, monkeypatch):
    # serve's one-thread sessions run a batch of 8+ texts as interleaved parts at once: same rows,
    # in the caller's order, as one run; and the parts really ran on other threads.
    import threading

    # Batches of 16, as in test_onnx_vectors_agree_with_torch: each batch is padded to its longest
    # text, so a batch of 64 would run all of the sample at the long text's 256 tokens (~5x the CPU).
    texts, batch_size = sample_texts(), 16
    cache = [onnx_export["cache"]]
    whole = embedding.LocalOnnxModel(
        embedding.model_dir(), batch_size=batch_size, threads=1, parts=1, cache_roots=cache
    )
    split = embedding.LocalOnnxModel(
        embedding.model_dir(), batch_size=batch_size, threads=1, parts=3, cache_roots=cache
    )
    seen = set()
    run = embedding_onnx.OnnxSentenceEncoder._run

    def spying(self, texts, chosen):
        seen.add((threading.get_ident(), len(chosen)))
        return run(self, texts, chosen)

    monkeypatch.setattr(embedding_onnx.OnnxSentenceEncoder, "_run", spying)
    for batch in (texts, texts[:20], texts[:7]):
        expected = np.array(whole.embed(batch))
        seen.clear()
        got = np.array(split.embed(batch))
        assert got.shape == expected.shape
        assert np.allclose(got, expected, atol=1e-5)
        threads = {ident for ident, _ in seen}
        assert (len(threads) > 1) == (len(batch) >= 8)
        assert max(size for _, size in seen) <= (min(len(batch), batch_size) + 2) // 3 or len(batch) < 8


# --- batches in bfloat16 on the onnx backend (issue #15, session 11) ---------------------------


@pytest.fixture(scope="module")
def openvino_bf16(onnx_model):
    return embedding_onnx.OpenVinoSentenceEncoder(embedding.model_dir(), onnx_model.onnx_file, batch_size=16, threads=2)


def test_bf16_batches_agree_with_onnx_float32(onnx_model, openvino_bf16):
    texts = sample_texts()
    fp32, bf16 = np.array(onnx_model.embed(texts)), openvino_bf16.embed(texts)
    assert bf16.dtype == np.float32 and bf16.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-4)
    agreement = (fp32 * bf16).sum(axis=1)
    assert (agreement > 0.999).all(), agreement.min()
    assert np.median(agreement) > 0.9999
    # bfloat16 really ran: the vectors are close to float32's, not equal to them.
    assert not np.allclose(fp32, bf16, atol=1e-5)


def test_bf16_batches_from_several_threads_at_once_keep_their_own_vectors(openvino_bf16):
    """Each thread runs its own infer request: one shared would hand a thread another's output."""
    texts = sample_texts()[:96]
    batches = [texts[i : i + 12] for i in range(0, len(texts), 12)]
    alone = [openvino_bf16.embed(batch) for batch in batches]
    start = threading.Barrier(len(batches))
    together = [None] * len(batches)

    def run(index):
        start.wait()
        for _ in range(3):
            together[index] = openvino_bf16.embed(batches[index])

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for mine, theirs in zip(alone, together, strict=True):
        assert ((mine * theirs).sum(axis=1) > 0.9999).all()


def test_the_onnx_backend_sends_calls_of_two_texts_or_more_to_bf16(onnx_export, monkeypatch):
    calls = []
    for cls in (embedding_onnx.OnnxSentenceEncoder, embedding_onnx.OpenVinoSentenceEncoder):
        run = cls._run
        monkeypatch.setattr(
            cls,
            "_run",
            lambda self, texts, chosen, run=run, cls=cls: calls.append(cls.precision) or run(self, texts, chosen),
        )
    model = embedding.LocalOnnxModel(
        embedding.model_dir(), batch_size=16, threads=1, cache_roots=[onnx_export["cache"]], bf16_threads=1
    )
    assert model.precision == "fp32, bf16 from 2 texts a call"
    model.embed(["User drinks tea"])
    assert calls == ["fp32"]
    calls.clear()
    model.embed(["User drinks tea", "User repairs cars"])
    assert calls == ["bf16"]
    calls.clear()
    plain = embedding.LocalOnnxModel(
        embedding.model_dir(), batch_size=16, threads=1, cache_roots=[onnx_export["cache"]]
    )
    plain.embed(["User drinks tea", "User repairs cars"])
    assert calls == ["fp32"] and plain.precision == "fp32"


def test_the_precision_setting_decides_the_batches(settings, onnx_export):
    settings.EMBEDDING_ONNX_DIR = str(onnx_export["cache"])
    settings.EMBEDDING_PRECISION = "fp32"
    assert embedding.load_embedder("onnx").precision == "fp32"
    settings.EMBEDDING_PRECISION = "bf16"
    assert embedding.load_embedder("onnx").precision == "fp32, bf16 from 2 texts a call"
    settings.EMBEDDING_PRECISION = "auto"
    expected = "fp32, bf16 from 2 texts a call" if embedding.cpu_has_native_bf16() else "fp32"
    assert embedding.load_embedder("onnx").precision == expected


def test_the_batch_parts_follow_the_threads():
    assert embedding.batch_parts(0, threads=1, cores=2) == 2
    assert embedding.batch_parts(0, threads=1, cores=16) == 4
    assert embedding.batch_parts(0, threads=0, cores=2) == 1
    assert embedding.batch_parts(0, threads=2, cores=2) == 1
    assert embedding.batch_parts(3, threads=0, cores=2) == 3


class _Runs:
    """An ONNX Runtime session that records how many of its runs there were."""

    def __init__(self, session):
        self._session, self.count = session, 0

    def run(self, *args, **kwargs):
        self.count += 1
        return self._session.run(*args, **kwargs)


def test_a_lone_small_run_takes_the_session_on_more_threads(onnx_export, tmp_path):
    """One text finding no other such run going on runs on the session of ``lone_threads``; while
    another process holds the machine's turn, on the regular one; same vectors either way."""
    model = embedding.LocalOnnxModel(
        embedding.model_dir(), batch_size=16, threads=1, lone_threads=2, cache_roots=[onnx_export["cache"]]
    )
    encoder = model._encoder
    encoder._lone_run = embedding_onnx.LoneRun(tmp_path / "lone.lock")
    encoder._session, encoder._lone = _Runs(encoder._session), _Runs(encoder._lone)
    text = ["The ferry to Hvar leaves at 07:15"]
    alone = np.array(model.embed(text))
    assert (encoder._lone.count, encoder._session.count) == (1, 0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FLOCK, str(tmp_path / "lone.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = np.array(model.embed(text))
    finally:
        holder.kill()
        holder.wait()
    assert (encoder._lone.count, encoder._session.count) == (1, 1)
    assert np.allclose(alone, busy, atol=1e-5)
    model.embed(text)
    assert encoder._lone.count == 2  # the turn came back when the other process ended


HOLD_FLOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_one_lone_run_at_a_time_among_threads(tmp_path):
    lone = embedding_onnx.LoneRun(tmp_path / "lone.lock")
    assert lone.take()
    other = []
    thread = threading.Thread(target=lambda: other.append(lone.take()))
    thread.start()
    thread.join()
    assert other == [False]
    lone.give_back()
    assert lone.take()
    lone.give_back()


def test_the_lone_threads_follow_the_session_threads(settings, onnx_export):
    settings.EMBEDDING_ONNX_DIR, settings.EMBEDDING_PRECISION = str(onnx_export["cache"]), "fp32"
    settings.EMBEDDING_LONE_THREADS, settings.EMBEDDING_THREADS = 0, 1
    on_cores = embedding.load_embedder("onnx")._encoder._lone is not None
    assert on_cores == ((os.cpu_count() or 1) > 1)  # serve's workers, on two cores or more
    settings.EMBEDDING_THREADS = 0
    assert embedding.load_embedder("onnx")._encoder._lone is None  # every run has every core already
    settings.EMBEDDING_LONE_THREADS, settings.EMBEDDING_THREADS = 1, 1
    assert embedding.load_embedder("onnx")._encoder._lone is None  # off


def test_the_backend_is_a_setting(settings, onnx_export):
    settings.EMBEDDING_ONNX_DIR = str(onnx_export["cache"])
    assert isinstance(embedding.load_embedder("onnx"), embedding.LocalOnnxModel)
    assert isinstance(embedding.load_embedder("torch"), embedding.LocalSentenceTransformer)
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BACKEND='tpu' must be torch or onnx"):
        embedding.load_embedder("tpu")
    assert embedding.status()["backend"] == settings.EMBEDDING_BACKEND


def test_a_bad_backend_stops_start_up_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "DATABASE_URL")}
    env.update(EMBEDDING_BACKEND="tpu", MEM0G_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "EMBEDDING_BACKEND='tpu' must be torch or onnx" in result.stderr
    assert "Traceback" not in result.stderr


def test_onnx_without_onnxruntime_fails_clearly(monkeypatch, settings):
    from memories.checks import embedding_backend_available

    settings.EMBEDDING_BACKEND = "onnx"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_BACKEND=onnx needs the onnxruntime package"):
        embedding.LocalOnnxModel(embedding.model_dir(), batch_size=8, cache_roots=[])
    assert [error.id for error in embedding_backend_available(None)] == ["memories.E002"]
    settings.EMBEDDING_BACKEND = "torch"
    assert embedding_backend_available(None) == []


def test_bf16_batches_without_openvino_fail_clearly(monkeypatch, settings, onnx_export):
    from memories.checks import embedding_backend_available

    settings.EMBEDDING_BACKEND, settings.EMBEDDING_PRECISION = "onnx", "bf16"
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed
    with pytest.raises(ImproperlyConfigured, match="EMBEDDING_PRECISION=bf16 on onnx needs the openvino package"):
        embedding.LocalOnnxModel(
            embedding.model_dir(), batch_size=8, cache_roots=[onnx_export["cache"]], bf16_threads=1
        )
    assert [error.id for error in embedding_backend_available(None)] == ["memories.E003"]
    settings.EMBEDDING_PRECISION = "fp32"
    assert embedding_backend_available(None) == []


def test_onnx_with_nowhere_to_export_fails_clearly(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ImproperlyConfigured, match="none of them is writable"):
        embedding.LocalOnnxModel(embedding.model_dir(), batch_size=8, cache_roots=[blocker / "onnx"])


def test_the_install_step_and_the_image_make_the_export():
    makefile = (ROOT / "Makefile").read_text()
    assert "-m memories.embedding_onnx" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "embedding_onnx.py" in dockerfile
    assert dockerfile.index("embedding_onnx.py") < dockerfile.index("USER mem0g")


# --- the micro-batcher --------------------------------------------------------------------------


def test_the_micro_batcher_gives_every_caller_its_own_vectors(onnx_model):
    texts = [
        f"User {i} keeps a pet {animal} called {name}"
        for i, (animal, name) in enumerate(
            [
                ("cat", "Miso"),
                ("dog", "Rex"),
                ("parrot", "Kiwi"),
                ("rabbit", "Bun"),
                ("horse", "Storm"),
                ("goldfish", "Bubbles"),
                ("tortoise", "Shelly"),
                ("hamster", "Nibbles"),
            ]
        )
    ]
    expected = np.array(onnx_model.embed(texts))
    sizes = []

    def counted(batch):
        sizes.append(len(batch))
        return onnx_model.embed(batch)

    # Waiting long enough for all eight: exactly one model call for the first round.
    batcher = embedding.MicroBatcher(counted, max_texts=8, wait_seconds=5.0)
    results: dict[int, list] = {}
    start = threading.Barrier(8)

    def call(i, rounds):
        start.wait()
        for r in range(rounds):
            if r % 3 == 2:  # now and then two texts in one call
                pair = batcher.embed([texts[i], texts[(i + 1) % 8]])
                results.setdefault(i, []).append((i, pair[0]))
                results[i].append(((i + 1) % 8, pair[1]))
            else:
                results.setdefault(i, []).append((i, batcher.embed([texts[i]])[0]))

    threads = [threading.Thread(target=call, args=(i, 1)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sizes == [8]
    # Then a free-for-all without waiting: still each caller's own vector.
    batcher.wait_seconds = 0
    start = threading.Barrier(8)
    threads = [threading.Thread(target=call, args=(i, 12)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checked = 0
    for got in results.values():
        for index, vector in got:
            scores = expected @ np.asarray(vector)
            assert scores.argmax() == index and scores[index] > 0.9999
            checked += 1
    assert checked == 8 + 8 * (8 + 4 * 2)
    assert batcher.stats["calls"] == 8 + 8 * 12 and sum(sizes) == batcher.stats["texts"]
    assert max(sizes) <= 8


def test_a_model_error_reaches_every_caller_of_its_batch_and_the_batcher_goes_on(onnx_model):
    def failing(batch):
        if any("boom" in text for text in batch):
            raise ValueError("the model failed")
        return onnx_model.embed(batch)

    batcher = embedding.MicroBatcher(failing, max_texts=3, wait_seconds=5.0)
    outcomes = {}
    start = threading.Barrier(3)

    def call(text):
        start.wait()
        try:
            outcomes[text] = batcher.embed([text])
        except ValueError as exc:
            outcomes[text] = exc

    threads = [threading.Thread(target=call, args=(text,)) for text in ("fine", "boom", "also fine")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(outcome, ValueError) for outcome in outcomes.values()) and len(outcomes) == 3
    batcher.wait_seconds = 0
    assert len(batcher.embed(["fine again"])[0]) == 384


def test_the_micro_batcher_is_a_setting(settings):
    settings.EMBEDDING_MICROBATCH = 0
    assert embedding.get_batcher() is None
    settings.EMBEDDING_MICROBATCH = 16
    settings.EMBEDDING_MICROBATCH_WAIT_MS = 0.0
    embedding._batcher = None
    try:
        batcher = embedding.get_batcher()
        assert batcher is not None and batcher.max_texts == 16
        calls = batcher.stats["calls"]
        vector = embedding.embed_texts(["User collects vinyl records"])[0]
        assert batcher.stats["calls"] == calls + 1
        assert np.asarray(vector).shape == (384,)
        assert embedding.status()["microbatch"] == 16  # /status names the size in use
        settings.EMBEDDING_MICROBATCH = 0
        assert embedding.status()["microbatch"] == 0
    finally:
        embedding._batcher = None


def test_auto_joins_calls_where_a_batch_costs_less_per_text(monkeypatch):
    monkeypatch.setattr(embedding, "cpu_has_native_bf16", lambda cpuinfo=None: True)
    embedding.microbatch_size.cache_clear()
    try:
        assert embedding.microbatch_size("auto", "onnx", "auto") == embedding.AUTO_MICROBATCH
        assert embedding.microbatch_size("auto", "onnx", "fp32") == 0  # ONNX Runtime's float32 batches
        assert embedding.microbatch_size("auto", "torch", "fp32") == embedding.AUTO_MICROBATCH
        assert embedding.microbatch_size(0, "onnx", "bf16") == 0
        assert embedding.microbatch_size(8, "onnx", "fp32") == 8
        monkeypatch.setattr(embedding, "cpu_has_native_bf16", lambda cpuinfo=None: False)
        embedding.microbatch_size.cache_clear()
        assert embedding.microbatch_size("auto", "onnx", "auto") == 0
    finally:
        embedding.microbatch_size.cache_clear()


def test_one_text_joins_a_call_being_made_and_otherwise_starts_beside_the_caller(settings):
    """``embed_later``: one text goes through the micro-batcher while it is making a call (to be
    joined with the next), and starts on the pool beside the caller when it is idle; a call of
    several texts always starts on the pool."""
    settings.EMBEDDING_MICROBATCH = 16
    settings.EMBEDDING_MICROBATCH_WAIT_MS = 0.0
    embedding._batcher = None
    try:
        batcher = embedding.get_batcher()
        texts = ["User collects vinyl records", "User runs on Sundays", "User's sister lives in Oslo"]
        alone = [np.asarray(embedding.embed_texts([text])[0]) for text in texts]
        calls = batcher.stats["calls"]
        one = embedding.embed_later(texts[:1])()
        several = embedding.embed_later(texts)()
        assert batcher.stats["calls"] == calls  # idle: neither went through the batcher
        assert np.allclose(np.asarray(one[0]), alone[0], atol=1e-5)
        assert all(np.dot(np.asarray(v), a) > 0.999 for v, a in zip(several, alone, strict=True))

        # Busy: a call is being made (its model held until released); one text joins the next call.
        embedder, held, entered = embedding.get_embedder(), threading.Event(), threading.Event()

        def slow(batch):
            entered.set()
            held.wait(10)
            return embedder.embed(batch)

        embedding._batcher = busy = embedding.MicroBatcher(slow, max_texts=16)
        leader = threading.Thread(target=busy.embed, args=(["User bakes bread"],))
        leader.start()
        assert entered.wait(10) and busy.busy()
        threading.Timer(0.2, held.set).start()
        joined = embedding.embed_later(texts[1:2])()
        leader.join(10)
        assert busy.stats["calls"] == 2 and not busy.busy()
        assert np.dot(np.asarray(joined[0]), alone[1]) > 0.999
    finally:
        embedding._batcher = None
