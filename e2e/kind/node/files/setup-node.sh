#!/bin/bash
# Runs inside the node-image build container (Debian + containerd + runc from Debian's packages)
# and lays out what kind v0.33's base image and `kind build node-image` would: kind's own files from
# the kind module (/build/kind-base = images/base/files), the Kubernetes binaries, /kind/version,
# the manifests, and every image the node runs, imported into containerd's k8s.io namespace.
# Args: K8S_VERSION POD_PREFIX
set -euo pipefail
k8s_version="$1" pod_prefix="$2"
b=/build

# kind's base files (modes as kind's Dockerfile sets them: scripts 0755, the rest 0644).
install -m 0755 "$b"/kind-base/usr/local/bin/* /usr/local/bin/
mkdir -p /kind/bin /kind/manifests /etc/containerd /etc/systemd/system/kubelet.service.d /etc/kubernetes/manifests
install -m 0755 "$b"/kind-base/kind/bin/* /kind/bin/
install -m 0644 "$b"/kind-base/etc/crictl.yaml /etc/
install -m 0644 "$b"/kind-base/etc/default/* /etc/default/
install -m 0644 "$b"/kind-base/etc/sysctl.d/* /etc/sysctl.d/
install -m 0644 "$b"/kind-base/etc/systemd/system/*.service "$b"/kind-base/etc/systemd/system/*.slice /etc/systemd/system/
install -m 0644 "$b"/kind-base/etc/systemd/system/kubelet.service.d/* /etc/systemd/system/kubelet.service.d/
rm -f /etc/systemd/system/containerd-fuse-overlayfs.service
# Ours: containerd config (restrict_oom_score_adj), the bridge CNI in place of kindnetd.
install -m 0644 "$b"/containerd-config.toml /etc/containerd/config.toml
install -m 0755 "$b"/bridge-cni.sh /kind/bin/bridge-cni.sh
install -m 0644 "$b"/kind-bridge-cni.service /etc/systemd/system/
echo "POD_PREFIX=$pod_prefix" >/etc/default/kind-bridge-cni

# kind's unit runs /usr/local/bin/containerd; Debian installs it in /usr/bin. containerd 1.6 looks
# for CNI plugins in /opt/cni/bin; Debian ships them in /usr/lib/cni.
ln -sf /usr/bin/containerd /usr/local/bin/containerd
mkdir -p /opt/cni && rm -rf /opt/cni/bin && ln -s /usr/lib/cni /opt/cni/bin

# As kind's base Dockerfile: the default OCI spec plus kind's product-files hook, without rlimits.
ctr oci spec |
  jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
  jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json

# systemd as kind's base trims it: no getty, no udev sockets, no tmpfiles at boot, no kmsg.
find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
  /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
  /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>/etc/systemd/journald.conf
ln -sf /usr/lib/systemd/systemd /sbin/init
systemctl enable kubelet.service containerd.service undo-mount-hacks.service kind-bridge-cni.service
systemctl mask systemd-binfmt.service

for bin in kubeadm kubelet kubectl; do install -m 0755 -o root -g root "$b/bin/$bin" /usr/bin/; done
install -m 0755 "$b/bin/crictl" /usr/local/bin/crictl
echo -n "$k8s_version" >/kind/version

# kindnetd is not used (cluster.yaml sets disableDefaultCNI); this stands in where a config does not.
cat >/kind/manifests/default-cni.yaml <<'YAML'
# This node image carries no kindnetd: a bridge CNI config (kind-bridge-cni.service) does pod
# networking instead. kind applies this file when a cluster config keeps the default CNI.
apiVersion: v1
kind: ConfigMap
metadata:
  name: kind-offline-cni
  namespace: kube-system
data:
  cni: bridge (see /etc/cni/net.d/10-kind-bridge.conflist on each node)
YAML
# No local-path-provisioner here: kind's own fallback class, which no provisioner serves.
cat >/kind/manifests/default-storage.yaml <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/host-path
YAML

# The images, as kind's builder imports them: into k8s.io, pinned, not unpacked (the kubelet's
# first use unpacks them).
containerd >/tmp/containerd.log 2>&1 &
pid=$!
for _ in $(seq 60); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done
import=(ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests)
# containerd 1.6's ctr may lack --label (the pinned label only matters to 1.7+'s image GC).
if ctr images import --help 2>&1 | grep -q -- '--label'; then import+=(--label=io.cri-containerd.pinned=pinned); fi
"${import[@]}" "$b/images.tar" >&2
ctr --namespace=k8s.io images ls -q | grep -v '^sha256:' | sort
kill "$pid"
wait "$pid" || true
rm -rf "$b" /tmp/* /var/log/* /var/cache/apt/* /var/lib/apt/lists/*
