# shellcheck shell=bash
# Certificates and keys for the local control plane, made with openssl; sourced by cluster.sh.
# EC P-256 keys: instant to generate, and every component accepts them.

# new_key PATH
new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  chmod 600 "$1"
}

# sign_cert DIR NAME SUBJECT EXT: NAME.key/NAME.crt signed by DIR/ca, EXT is an openssl extension file body.
sign_cert() {
  local dir="$1" name="$2" subject="$3" ext="$4"
  new_key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
}

client_ext='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'

server_ext() { # SANs
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$1"
}

# make_ca DIR CN: DIR/ca.key and DIR/ca.crt.
make_ca() {
  mkdir -p "$1"
  new_key "$1/ca.key"
  openssl req -x509 -new -key "$1/ca.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$1/ca.crt" 2>/dev/null
}

# make_pki DIR SERVICE_IP: CA, serving certs, one client cert per identity, service-account key
# pair, and a separate front-proxy CA for the aggregation layer (as kubeadm sets it up).
make_pki() {
  local dir="$1" service_ip="$2"
  make_ca "$dir" whisper-operator-e2e-ca
  sign_cert "$dir" apiserver "/CN=kube-apiserver" "$(server_ext "IP:127.0.0.1,IP:$service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local")"
  sign_cert "$dir" kwok-serving "/CN=kwok" "$(server_ext "IP:127.0.0.1,DNS:localhost")"
  # Identities: the admin is in system:masters; the controller manager and scheduler use the
  # names the bootstrap RBAC roles are bound to; kwok acts for every fake kubelet, so it is admin too.
  sign_cert "$dir" admin "/O=system:masters/CN=kubernetes-admin" "$client_ext"
  sign_cert "$dir" controller-manager "/CN=system:kube-controller-manager" "$client_ext"
  sign_cert "$dir" scheduler "/CN=system:kube-scheduler" "$client_ext"
  sign_cert "$dir" kwok "/O=system:masters/CN=kwok-controller" "$client_ext"
  sign_cert "$dir" apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client_ext"
  make_ca "$dir/front-proxy" whisper-operator-e2e-front-proxy-ca
  sign_cert "$dir/front-proxy" client "/CN=front-proxy-client" "$client_ext"
  rm -f "$dir/front-proxy/ca.srl"
  # Service-account token signing key (TokenRequest, projected tokens).
  new_key "$dir/sa.key"
  openssl pkey -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  rm -f "$dir/ca.srl"
}

# write_kubeconfig PATH SERVER PKI_DIR IDENTITY: a self-contained kubeconfig (certs embedded).
write_kubeconfig() (
  local path="$1" server="$2" dir="$3" id="$4"
  local b64='base64 -w0'
  umask 077
  cat >"$path" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: whisper-e2e
  cluster:
    server: $server
    certificate-authority-data: $($b64 <"$dir/ca.crt")
users:
- name: $id
  user:
    client-certificate-data: $($b64 <"$dir/$id.crt")
    client-key-data: $($b64 <"$dir/$id.key")
contexts:
- name: whisper-e2e
  context:
    cluster: whisper-e2e
    user: $id
current-context: whisper-e2e
KUBECONFIG
)
