# shellcheck shell=bash
# The local stack's own credentials, made on `up` under $STACK_ROOT/pki (git-ignored), nothing by hand:
#   ca.crt / ca.key               the stack's certificate authority (ECDSA P-256, 10 years)
#   broker.*                      every Kafka node's certificate (127.0.0.1, localhost): its listeners and
#                                 its own connections to the other nodes (principal User:broker)
#   postgres.*                    PostgreSQL's server certificate
#   <principal>.crt/.key/.pem     one client certificate per principal (CN = the principal): what each
#                                 part authenticates with, to Kafka (mutual TLS) and to PostgreSQL
#                                 (cert auth); .pem is key + certificate, for the Java clients
#   key-feed.key / key-feed.pub   the Ed25519 pair that signs the key feed (private: publishers only)
#   gate.secret                   the reporter's and loader's secret for gate markers (HMAC-SHA256)
# Why mutual TLS and not SCRAM: docs/security.md. Sourced by lib.sh.

PRINCIPALS=(admin ingest loader reporter keys migrate mirrormaker)

pki_dir() { echo "$STACK_ROOT/pki"; }

# pki_cert NAME EXTENDED_KEY_USAGE [SUBJECT_ALT_NAME]: a key and a certificate signed by the stack's CA.
pki_cert() {
  local dir name=$1 eku=$2 san=${3:-}
  dir="$(pki_dir)"
  [[ -s $dir/$name.crt && -s $dir/$name.key ]] && return 0
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$name.key" 2>/dev/null
  openssl req -new -key "$dir/$name.key" -subj "/O=Playlog local stack/CN=$name" -out "$dir/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 825 \
    -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  cat "$dir/$name.key" "$dir/$name.crt" >"$dir/$name.pem"
  rm -f "$dir/$name.csr" "$dir/$name.ext"
  chmod 600 "$dir/$name.key" "$dir/$name.pem"
}

# Makes whatever is missing; a missing CA means a new one, and every certificate with it.
ensure_pki() {
  local dir p
  dir="$(pki_dir)"
  command -v openssl >/dev/null || { err "openssl not found (apt-get install openssl)"; exit 1; }
  if [[ ! -s $dir/ca.crt || ! -s $dir/ca.key ]]; then
    log "making the stack's certificate authority and credentials in $dir"
    rm -rf "$dir" && mkdir -p "$dir" && chmod 700 "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" \
      -days 3650 -subj "/O=Playlog local stack/CN=Playlog local stack CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 "$dir/ca.key"
  fi
  # PLAYLOG_PKI_HOSTS: more names the servers answer to (docker/compose.yaml: its services' names).
  local hosts="IP:127.0.0.1,DNS:localhost${PLAYLOG_PKI_HOSTS:+,$PLAYLOG_PKI_HOSTS}"
  pki_cert broker serverAuth,clientAuth "$hosts"
  pki_cert postgres serverAuth "$hosts"
  for p in "${PRINCIPALS[@]}"; do pki_cert "$p" clientAuth; done
  if [[ ! -s $dir/key-feed.key ]]; then
    openssl genpkey -algorithm ED25519 -out "$dir/key-feed.key" 2>/dev/null && chmod 600 "$dir/key-feed.key"
    openssl pkey -in "$dir/key-feed.key" -pubout -out "$dir/key-feed.pub" 2>/dev/null
  fi
  [[ -s $dir/gate.secret ]] || { openssl rand -base64 32 >"$dir/gate.secret" && chmod 600 "$dir/gate.secret"; }
  return 0
}
