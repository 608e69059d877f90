#!/usr/bin/env bash
# GPU side of the benchmarks and the GPU-relevant tests, in one command (issue 6).
#
# On a CUDA machine with JAX's CUDA build already installed (no internet needed), from anywhere:
#
#     bash benchmarks/gpu.sh
#
# It installs this checkout without dependencies (`pip install --no-deps -e .`), checks that JAX
# sees a GPU, runs the GPU tests (`pytest -m gpu`, if any are marked) plus tests/test_engine.py and
# tests/test_sharding.py and tests/test_reactions.py, then the bandwidth micro-benchmark, the
# annealing size sweep (96 ... 16384, local and global moves, one lattice and a batch of 10
# compositions), the plot, and the engine paths with and without the reaction observer
# (bench_engine_paths.py at 1536^2 and 16384^2: previous vs phase-by-phase random numbers,
# observer overhead, device bytes per site; issue 11).
# Writes benchmarks/results/{bandwidth_gpu.json, anneal_gpu.json, anneal_throughput.png,
# bandwidth_bound.json, engine_paths_gpu.json, engine_paths_gpu_16384.json} and a log,
# benchmarks/results/gpu_run.log. (Not yet run on a GPU: no GPU was available to issue 11.)
# Environment: PYTHON (default python), BENCH_ARGS (extra arguments for bench_anneal.py,
# e.g. "--sizes 96 1536 16384" or "--batch 0"), SKIP_TESTS=1 to go straight to the benchmarks.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
LOG=benchmarks/results/gpu_run.log
mkdir -p benchmarks/results
exec > >(tee -a "$LOG") 2>&1
echo "=== $(date '+%F %T') gpu.sh on $(hostname); load $(cut -d' ' -f1-3 /proc/loadavg)"

$PY -m pip install --no-deps -e . || { echo "pip install --no-deps -e . failed"; exit 1; }
$PY - <<'EOF' || exit 1
import jax
devs = jax.devices()
print("jax", jax.__version__, "devices:", devs)
if jax.default_backend() != "gpu":
    raise SystemExit("JAX sees no GPU here (default backend %r): install jax[cuda] first" % jax.default_backend())
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

status=0
if [ "${SKIP_TESTS:-0}" != "1" ]; then
    $PY -m pytest -p no:xdist -q -m gpu tests
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then status=$rc; fi   # 5: no test is marked gpu
    $PY -m pytest -p no:xdist -q tests/test_engine.py tests/test_sharding.py tests/test_reactions.py || status=$?
fi

$PY benchmarks/bench_bandwidth.py --device gpu || status=$?
# shellcheck disable=SC2086
$PY benchmarks/bench_anneal.py --device gpu ${BENCH_ARGS:-} || status=$?
$PY benchmarks/plot_anneal.py || status=$?
$PY benchmarks/bench_engine_paths.py --device gpu --size 1536 --short 10 --long 110 || status=$?
$PY benchmarks/bench_engine_paths.py --device gpu --size 16384 --short 2 --long 12 --repeats 5 \
    --out benchmarks/results/engine_paths_gpu_16384.json || status=$?
echo "=== $(date '+%F %T') done, status $status; results in benchmarks/results/"
exit $status
