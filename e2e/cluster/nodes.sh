# shellcheck shell=bash
# Fake node manifests for kwok; sourced by cluster.sh.
# kwok manages nodes annotated kwok.x-k8s.io/node=fake and keeps the capacity given here, so
# GPU scheduling is exercised without GPUs. GPU nodes carry the label and taint that NVIDIA's
# GPU operator / device plugin setups put on real GPU nodes.

# node_manifest NAME GPUS: one Node; GPUS=0 makes a CPU-only node.
node_manifest() {
  local name="$1" gpus="$2"
  cat <<YAML
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $name
    node-role.kubernetes.io/worker: ""
YAML
  if ((gpus > 0)); then
    cat <<YAML
    nvidia.com/gpu.present: "true"
    nvidia.com/gpu.count: "$gpus"
    nvidia.com/gpu.product: NVIDIA-L4
spec:
  taints:
  - key: nvidia.com/gpu
    value: present
    effect: NoSchedule
YAML
  else
    printf 'spec: {}\n'
  fi
  local gpu_line=""
  ((gpus > 0)) && gpu_line="    nvidia.com/gpu: \"$gpus\""
  for field in capacity allocatable; do
    [[ $field == capacity ]] && printf 'status:\n'
    printf '  %s:\n    cpu: "8"\n    memory: 32Gi\n    pods: "110"\n    ephemeral-storage: 100Gi\n' "$field"
    [[ -n "$gpu_line" ]] && printf '%s\n' "$gpu_line"
  done
  return 0
}

# nodes_manifest CPU_NODES GPU_NODES GPUS_PER_NODE
nodes_manifest() {
  local i
  for ((i = 0; i < $1; i++)); do node_manifest "kwok-cpu-$i" 0; done
  for ((i = 0; i < $2; i++)); do node_manifest "kwok-gpu-$i" "$3"; done
}
