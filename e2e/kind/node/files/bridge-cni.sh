#!/bin/bash
# Pod networking without kindnetd (its module needs one the Go module proxy refuses): a bridge CNI
# config with a /24 per node, taken from the node's own address (node a.b.c.N gets POD_PREFIX.N.0/24),
# and a route to every other possible node's /24 via that node's address on the same network.
# Routes to addresses no node holds are harmless; they spare us knowing the other nodes at boot.
# Runs once per boot (kind-bridge-cni.service), before containerd and the kubelet.
set -euo pipefail
# shellcheck source=/dev/null
source /etc/default/kind-bridge-cni # POD_PREFIX (first two octets of the pod /16)

ip4="$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -n1)"
[[ -n "$ip4" ]] || { echo "bridge-cni: eth0 has no IPv4 address" >&2; exit 1; }
IFS=. read -r a b c n <<<"$ip4"

mkdir -p /etc/cni/net.d
cat >/etc/cni/net.d/10-kind-bridge.conflist <<CONF
{
  "cniVersion": "0.4.0",
  "name": "kind-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "isDefaultGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "${POD_PREFIX}.${n}.0/24"}]]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CONF

sysctl -qw net.ipv4.ip_forward=1
for m in $(seq 1 254); do
  [[ "$m" == "$n" ]] && continue
  ip route replace "${POD_PREFIX}.${m}.0/24" via "${a}.${b}.${c}.${m}" dev eth0
done
# Pods reach other nodes' pods unmasqueraded; anything else (docker's DNS, the host) leaves as the node.
rule=(-s "${POD_PREFIX}.0.0/16" ! -d "${POD_PREFIX}.0.0/16" -j MASQUERADE)
iptables -t nat -C POSTROUTING "${rule[@]}" 2>/dev/null || iptables -t nat -A POSTROUTING "${rule[@]}"
echo "bridge-cni: pods on ${POD_PREFIX}.${n}.0/24 (node $ip4)"
