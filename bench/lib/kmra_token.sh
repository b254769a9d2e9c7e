# Sourced by bench/handshake.sh: puts the bench key ($work/KIND.key, $work/KIND.crt) into an OpenKMRA
# token the production way: `kmra server --dev` holds it in SoftHSM2 (imported through the admin API),
# `kmra token init` makes the token on the simulated platform, `kmra loadkey` releases it into the token.
# Sets KMRA_TOKEN_CONF, KMRA_BENCH_TOKEN, KMRA_BENCH_URI (with the PIN) and KMRA_BENCH_CERT.

# kmra_token_server: starts one key server for the whole bench run (once).
kmra_token_server() {
  [ -n "${KMRA_BENCH_SERVER_URL:-}" ] && return 0
  local dir=$work/keyserver i
  "$kmra" pki init --dir "$dir" >/dev/null || return 1
  "$kmra" server --dev --dir "$dir" --listen 127.0.0.1:0 > "$work/keyserver.log" 2>&1 &
  KMRA_BENCH_SERVER_PID=$!
  pids+=($!)
  for i in $(seq 600); do
    [ -s "$dir/server.port" ] && break
    sleep 0.1
  done
  [ -s "$dir/server.port" ] || { echo "kmra server did not start:" >&2; cat "$work/keyserver.log" >&2; return 1; }
  KMRA_BENCH_SERVER_DIR=$dir
  KMRA_BENCH_SERVER_URL=https://127.0.0.1:$(cat "$dir/server.port")
}

# kmra_token_provision KIND: a token holding the bench key of KIND (once per KIND).
kmra_token_provision() {
  local kind=$1 tdir=$work/token-$1
  kmra_token_server || return 1
  export KMRA_TOKEN_CONF=$tdir/token.toml
  KMRA_BENCH_TOKEN=bench-$kind
  KMRA_BENCH_CERT=$work/$kind.crt
  if [ ! -f "$tdir/done" ]; then
    # The demo key's policy names the dev token's enclave (kmra server --dev); the bench key takes it.
    "$kmra" policy get demo --dir "$KMRA_BENCH_SERVER_DIR" |
      python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["policy"]))' \
      > "$work/bench-policy.json" || return 1
    "$kmra" keys create "bench-$kind" --dir "$KMRA_BENCH_SERVER_DIR" --import "$work/$kind.key" \
      --certificate "$work/$kind.crt" --policy "$work/bench-policy.json" >/dev/null || return 1
    "$kmra" token init --module "$module" --conf "$KMRA_TOKEN_CONF" --token-dir "$tdir/token" \
      --platform sim --platform-dir "$KMRA_BENCH_SERVER_DIR/sgx/platform-1" \
      --label "$KMRA_BENCH_TOKEN" --so-pin 87654321 --pin 12345678 >/dev/null || return 1
    "$kmra" loadkey -q -t "$KMRA_BENCH_TOKEN" -p 12345678 -u "bench-$kind" \
      --server "$KMRA_BENCH_SERVER_URL" --module "$module" --ca "$KMRA_BENCH_SERVER_DIR/tls/ca.pem" \
      --cert "$KMRA_BENCH_SERVER_DIR/tls/client.pem" --key "$KMRA_BENCH_SERVER_DIR/tls/client.key" \
      > "$tdir/uri" || return 1
    touch "$tdir/done"
  fi
  KMRA_BENCH_URI="$(cat "$tdir/uri")?pin-value=12345678"
}
