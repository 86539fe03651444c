"""Timing and model handling shared by the comparison scripts in bench/."""
import json
import os
import statistics
import subprocess
import tempfile
import time


def median_time(fn, min_seconds=0.2, reps=5):
    """Median over `reps` samples of fn's time, each sample averaging enough
    calls to last min_seconds / reps, after one warm-up call."""
    fn()
    samples = []
    for _ in range(reps):
        runs, start = 0, time.perf_counter()
        while True:
            fn()
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / reps:
                break
        samples.append(elapsed / runs)
    return statistics.median(samples)


def benchmark_medians(binary, name_filter, min_time, seconds_per_unit):
    """Runs a Google Benchmark binary on 1 thread (3 repetitions, JSON) and
    returns {run_name: median real time in seconds}; seconds_per_unit
    converts the binary's time unit (1e-9 for ns, 1e-3 for ms)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run(
            [binary, f"--benchmark_filter={name_filter}",
             "--benchmark_repetitions=3", f"--benchmark_min_time={min_time}",
             "--benchmark_format=json", f"--benchmark_out={f.name}",
             "--benchmark_out_format=json"],
            check=True, stdout=subprocess.DEVNULL,
            env=dict(os.environ, OMP_NUM_THREADS="1"))
        data = json.load(open(f.name))
    times = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        times.setdefault(b["run_name"], []).append(b["real_time"] * seconds_per_unit)
    return {name: statistics.median(v) for name, v in times.items()}


def ort_p50_ms(onnx_path, batch, threads, seconds, seq):
    """ONNX Runtime's median latency on onnx_path (bench/ort/ort_bench.js,
    CPU, all graph optimizations, intra-op threads = threads)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort",
                          "ort_bench.js")
    out = subprocess.run(
        ["node", script, onnx_path, "--batch", str(batch), "--threads",
         str(threads), "--time", str(seconds), "--seq", str(seq)],
        check=True, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS=str(threads))).stdout
    return json.loads(out.strip().splitlines()[-1])["p50_ms"]


def converted_models(models_dir, spruce, keep):
    """(name, model.onnx, model.spruce) for every model folder under
    models_dir whose name `keep` accepts, sorted, each converted afresh with
    `spruce convert`."""
    for name in sorted(os.listdir(models_dir)):
        d = os.path.join(models_dir, name)
        onnx_path = os.path.join(d, "model.onnx")
        if not os.path.exists(onnx_path) or not keep(name):
            continue
        spruce_path = os.path.join(d, "model.spruce")
        subprocess.run([spruce, "convert", onnx_path, "-o", spruce_path],
                       check=True, stdout=subprocess.DEVNULL)
        yield name, onnx_path, spruce_path
