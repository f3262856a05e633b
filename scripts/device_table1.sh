#!/usr/bin/env bash
# One lent-GPU session: a CUDA smoke check of every trainer, then Table 1's CPU-tuned settings with the
# paper's 2 x 1500 critics (suites/table1-mnist-tuned-gpu-*.toml; issue 27).
# Usage on the GPU machine, from the repository root: scripts/device_table1.sh OUT_DIR MNIST_DIR
# (pydantic travels as wheels in .whl/; the image has torch, pluggy, tabulate, tqdm, scikit-learn).
set -uo pipefail
out=$1; mnist=$2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 IBBENCH_DATA=/tmp/ibdata
ib() { python3 -m ibbench.cli "$@"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
ib data get mnist --from "$mnist" --quiet || exit 4
start=$(date +%s)
for t in ce ib-layerwise ib-e2e; do   # a CUDA smoke run of each trainer (ib-e2e with the AA-MINE probe)
  extra=(); [ $t = ib-e2e ] && extra=(--estimator aa-mine)
  ib run --task digits-mlp --trainer $t "${extra[@]}" --budget smoke --device cuda --out "$out/smoke.jsonl" --quiet || exit 5
done
echo "smoke done in $(( $(date +%s) - start )) s"
n=8   # shards per suite: 16 processes of one thread on the GPU's 16 cores
for frac in 1pct 100pct; do
  for k in $(seq 0 $((n - 1))); do
    ib suite run suites/table1-mnist-tuned-gpu-$frac.toml --shard $k/$n --out "/tmp/t1_${frac}_$k.jsonl" --quiet \
      > "/tmp/t1_${frac}_$k.log" 2>&1 &
  done
done
snapshot() { cat /tmp/t1_*.jsonl > "$out/runs.tmp" 2>/dev/null; mv "$out/runs.tmp" "$out/runs.jsonl"; }
( while sleep 15; do snapshot; done ) &   # finished cells come back even if the call hits its limit
watcher=$!
wait $(jobs -p | grep -v "^$watcher$")
kill $watcher; snapshot
cat /tmp/t1_*.log > "$out/suite.log"
echo "table1 done in $(( $(date +%s) - start )) s"
ib table accuracy --store "$out/runs.jsonl" | tee "$out/table.md"
ib table gaps --store "$out/runs.jsonl" | tee "$out/verdict.md"
