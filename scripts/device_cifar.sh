#!/usr/bin/env bash
# One lent-GPU session for issue 28: the CUDA throughput table, then paper Tables 2-3 (CIFAR-10) at the
# paper's budgets, 3 seeds, as many processes on the one GPU as help.
# Usage on the GPU machine, from the repository root:
#   scripts/device_cifar.sh OUT_DIR CIFAR_TARBALL [MINUTES]
# OUT_DIR gets throughput-cuda.{md,json}, table2.jsonl, table3.jsonl, the logs and the tables; finished
# cells are copied there every 15 s, so a call that hits its limit still brings back whole cells.
# CIFAR_TARBALL: the official cifar-10-python.tar.gz, or the JPEG q75 copy (../shared/data) carried in.
# MINUTES (default 12): the suites get this long, then the unfinished cells stop (their snapshots stay).
# pydantic travels as wheels in .whl/ (the image has torch, pluggy, tabulate, tqdm, scikit-learn):
#   pip download -d .whl pydantic pydantic-core annotated-types typing-inspection typing-extensions
# Checked on the CPU with SMOKE=1 (smoke budget, cpu, a few steps): SMOKE=1 scripts/device_cifar.sh out cifar.tar.gz 3
# (2026-12-07, on the 2-core CPU beside two busy jobs: the import, the quick throughput table and the
# shards ran; no smoke cell finished inside 5 minutes there, and the script stopped them and went on)
set -uo pipefail
out=$1; cifar=$2; minutes=${3:-12}
mkdir -p "$out"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 IBBENCH_DATA=${IBBENCH_DATA:-/tmp/ibdata}
ib() { python3 -m ibbench.cli "$@"; }
procs=8   # per suite: 16 processes on the 16 cores beside the GPU
if [ "${SMOKE:-0}" = 1 ]; then procs=2; fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
ib data import cifar10 "$cifar" --quiet || exit 4
start=$(date +%s)
if [ "${SMOKE:-0}" = 1 ]; then
  ib bench throughput --device cpu --quick --min-time 0.1 --no-precision --out-dir "$out" || exit 5
else
  ib bench throughput --device cuda --min-time 0.5 --out-dir "$out" || exit 5   # the first CUDA table
fi
echo "throughput done in $(( $(date +%s) - start )) s"
suites=()
for t in 3 2; do   # Table 3's end-to-end rows first: whole rows even if Table 2's layer-wise ones run out
  suite=suites/cifar-table$t-gpu.toml
  if [ "${SMOKE:-0}" = 1 ]; then   # the same rows at the smoke budget on the CPU, a few steps each
    sed -e 's/budget = "paper"/budget = "smoke"/' -e 's/device = "cuda"/device = "cpu"/' \
        -e 's/steps = 20000/steps = 20/' -e 's/seeds = \[0, 1, 2\]/seeds = [0]/' "$suite" > "/tmp/table$t.toml"
    suite=/tmp/table$t.toml
  fi
  suites+=("$t:$suite")
done
snapshot() {   # the finished cells so far, whole files only (no partial file is left in OUT_DIR)
  for t in 3 2; do
    ls /tmp/cifar_t${t}_*.jsonl >/dev/null 2>&1 || continue
    cat /tmp/cifar_t${t}_*.jsonl > "$out/table$t.tmp" && mv "$out/table$t.tmp" "$out/table$t.jsonl"
  done
}
( while sleep 15; do snapshot; done ) &
watcher=$!
for entry in "${suites[@]}"; do
  t=${entry%%:*}; suite=${entry#*:}
  for k in $(seq 0 $((procs - 1))); do
    timeout $((minutes * 60)) python3 -m ibbench.cli suite run "$suite" --shard $k/$procs \
      --out "/tmp/cifar_t${t}_$k.jsonl" --quiet --yes --threads 1 > "/tmp/cifar_t${t}_$k.log" 2>&1 &
  done
done
wait $(jobs -p | grep -v "^$watcher$")
kill $watcher; snapshot
cat /tmp/cifar_t*_*.log > "$out/suites.log"
echo "suites done in $(( $(date +%s) - start )) s"
for t in 3 2; do
  [ -s "$out/table$t.jsonl" ] && ib table accuracy --store "$out/table$t.jsonl" | tee "$out/table$t.md"
done
