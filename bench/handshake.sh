#!/usr/bin/env bash
# Full TLS handshakes per second served by nginx 1.22 + the libp11 engine, for each place the key can live:
#   pem      the key in a PEM file (the baseline every ratio is taken against)
#   token    the key in the OpenKMRA token (libkmra-pkcs11.so), loaded into nginx's process
#   p11kit   the key in the OpenKMRA token behind `p11-kit server`; nginx loads p11-kit-client.so
#   softhsm  the key in SoftHSM2 through the same engine
# for RSA-2048 and ECDSA P-256. A new connection per request (keepalive_timeout 0, no session cache, no
# tickets), h2load --h1 as the client. Everything on the server side runs on CPU 0 (the nginx worker, and
# in isolation mode the p11-kit server that holds the token), the load generator alone on CPU 1.
# All variants of a key type run side by side and are measured in turns (round r of every variant, then
# round r+1), so a slow drift of a shared machine hits them alike; the ratio to PEM is taken per round.
#
# Usage: bench/handshake.sh [--runs N] [--requests N] [--clients C] [--keys "rsa ec"]
#                           [--variants "pem token p11kit softhsm"] [--kmra PATH] [--module PATH]
# Prints one line per run and a table of medians and of per-round ratios to the PEM file. Every process it
# starts is stopped on exit; all files live in a temporary directory.
set -euo pipefail

runs=3 requests=3000 clients=16 keys="rsa ec" variants="pem token p11kit softhsm"
root=$(cd "$(dirname "$0")/.." && pwd)
kmra=${KMRA_BIN:-$root/build/release/src/cli/kmra}
module=${KMRA_MODULE:-$root/build/release/src/token/libkmra-pkcs11.so}
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --variants) variants=$2; shift 2 ;;
    --kmra) kmra=$2; shift 2 ;;
    --module) module=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "handshake.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# Absolute paths: p11-kit server looks a relative --provider path up in its own module directory.
[ -e "$module" ] && module=$(realpath "$module")
[ -e "$kmra" ] && kmra=$(realpath "$kmra")

engine=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
softhsm=/usr/lib/softhsm/libsofthsm2.so
p11kit_client=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
for tool in nginx h2load openssl softhsm2-util p11-kit taskset; do
  command -v "$tool" >/dev/null || { echo "handshake.sh: $tool is missing (scripts/packages.txt)" >&2; exit 1; }
done
[ -f "$engine" ] || { echo "handshake.sh: libp11 engine missing: apt-get install libengine-pkcs11-openssl" >&2; exit 1; }

work=$(mktemp -d /tmp/kmra-bench.XXXXXX)
chmod 0700 "$work"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cpu_client=1
[ "$(nproc)" -ge 2 ] || cpu_client=0

# free_port: asks the kernel for an unused TCP port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# make_key KIND: writes $work/KIND.key (PKCS#8 PEM) and a self-signed $work/KIND.crt for localhost.
make_key() {
  local kind=$1 alg
  case $kind in
    rsa) alg=(-newkey rsa:2048) ;;
    ec) alg=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
  esac
  openssl req -x509 "${alg[@]}" -nodes -keyout "$work/$kind.key" -out "$work/$kind.crt" -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
}

# write_nginx DIR PORT CERT KEY [ENV...]: an nginx prefix with one TLS server and one pinned worker.
write_nginx() {
  local dir=$1 port=$2 cert=$3 key=$4; shift 4
  mkdir -p "$dir/logs" "$dir/tmp"
  {
    echo "daemon off; master_process on; worker_processes 1; worker_cpu_affinity 01;"
    echo "user root; pid $dir/nginx.pid; error_log $dir/logs/error.log warn;"
    local v; for v in OPENSSL_CONF "$@"; do echo "env $v;"; done
    cat <<NGX
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $cert;
    ssl_certificate_key "$key";
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20;
    ssl_session_cache off;
    ssl_session_tickets off;
    keepalive_timeout 0;
    location / { return 200 "ok\n"; }
  }
}
NGX
  } > "$dir/nginx.conf"
}

# write_openssl FILE MODULE: OpenSSL config loading the libp11 engine with MODULE (init = 1, see PKCS11.md D).
write_openssl() {
  cat > "$1" <<CNF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $engine
MODULE_PATH = $2
init = 1
CNF
}

# start_nginx DIR PORT CACERT: starts nginx from DIR with the current environment, waits until it serves.
start_nginx() {
  local dir=$1 port=$2 cacert=$3 i
  taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/logs/stdout" 2>&1 &
  pids+=($!)
  for i in $(seq 100); do
    curl -fsS --cacert "$cacert" --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/" \
      >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "handshake.sh: nginx in $dir did not serve; its log says:" >&2
  tail -n 5 "$dir/logs/error.log" "$dir/logs/stdout" "$work"/p11kit-*.log >&2 2>/dev/null || true
  return 1
}

stop_last() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

# tree_cpu_ticks PID...: user + system clock ticks of these processes and their children (including
# children already reaped), i.e. all the CPU the server side of one variant used so far.
tree_cpu_ticks() {
  local total=0 p q t
  for p in "$@"; do
    for q in $p $(pgrep -P "$p" || true); do
      t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$q/stat" 2>/dev/null) || continue
      total=$((total + ${t:-0}))
    done
  done
  echo "$total"
}

# median_of "V1 V2 ..." FORMAT: the median of space-separated numbers (the lower middle one for an
# even count), printed with the printf FORMAT.
median_of() {
  tr ' ' '\n' <<<"$1" | grep . | sort -g |
    awk -v fmt="$2" '{ a[NR] = $1 } END { printf fmt "\n", a[int((NR + 1) / 2)] }'
}

# measure PORT: handshakes per second of one h2load run (each request opens a new TLS connection).
# A fixed request count, not -D: h2load 1.52's duration mode never ends against keepalive_timeout 0.
measure() {
  local out
  out=$(timeout 300 taskset -c $cpu_client h2load --h1 -n "$requests" -c "$clients" \
    "https://127.0.0.1:$1/" 2>&1) || true
  if ! grep -q "succeeded, 0 failed, 0 errored" <<<"$out"; then
    echo "handshake.sh: h2load run failed:" >&2; grep -E "requests:|error" <<<"$out" >&2; echo 0; return
  fi
  awk '/^finished in/ { gsub(",", "", $4); print $4 }' <<<"$out"
}

# Variant setup. Each prints the key reference nginx gets, the module path (or "-") and env names.
setup_softhsm() {
  local kind=$1 dir=$work/softhsm-$kind
  mkdir -p "$dir/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir/tokens" \
    > "$dir/softhsm2.conf"
  SOFTHSM2_CONF=$dir/softhsm2.conf softhsm2-util --init-token --free --label bench --pin 1234 \
    --so-pin 5678 >/dev/null
  SOFTHSM2_CONF=$dir/softhsm2.conf softhsm2-util --import "$work/$kind.key" --token bench \
    --label "$kind" --id 01 --pin 1234 >/dev/null
  export SOFTHSM2_CONF=$dir/softhsm2.conf
}

# The OpenKMRA token: the key arrives the way it does in production, through `kmra loadkey` against a
# `kmra server --dev` that holds it in SoftHSM2 (bench/lib/kmra_token.sh).
setup_token() {
  local kind=$1
  # shellcheck source=lib/kmra_token.sh
  source "$root/bench/lib/kmra_token.sh"
  kmra_token_provision "$kind"
}

declare -A median ratio_median cpu_median cpu_ratio_median
printf '%-8s %-4s %s\n' variant key "handshakes/s per run" >&2
for kind in $keys; do
  make_key "$kind"
  # Start one nginx per variant (each idle until measured), then measure them in turns: run r of every
  # variant follows run r-1 of every variant, so slow drifts of a shared machine hit all variants alike.
  declare -A port_of=() roots_of=()
  started=()
  for variant in $variants; do
    port=$(free_port)
    dir=$work/nginx-$variant-$kind
    envs=()
    case $variant in
      pem)
        write_nginx "$dir" "$port" "$work/$kind.crt" "$work/$kind.key"
        export OPENSSL_CONF=/dev/null ;;
      softhsm)
        setup_softhsm "$kind"
        write_openssl "$work/openssl-$variant-$kind.cnf" "$softhsm"
        export OPENSSL_CONF=$work/openssl-$variant-$kind.cnf
        write_nginx "$dir" "$port" "$work/$kind.crt" \
          "engine:pkcs11:pkcs11:token=bench;object=$kind;type=private?pin-value=1234" SOFTHSM2_CONF ;;
      token|p11kit)
        if [ ! -x "$kmra" ] || [ ! -f "$module" ]; then
          echo "skip $variant/$kind: build the release preset first (kmra: $kmra, module: $module)" >&2
          continue
        fi
        if ! setup_token "$kind" "$variant"; then
          echo "skip $variant/$kind: the token could not be provisioned (see above)" >&2
          continue
        fi
        if [ "$variant" = token ]; then
          write_openssl "$work/openssl-$variant-$kind.cnf" "$module"
          envs=(KMRA_TOKEN_CONF)
        else
          sock=$work/p11kit-$kind.sock
          taskset -c 0 p11-kit server -f -n "$sock" --provider "$module" "pkcs11:token=$KMRA_BENCH_TOKEN" \
            > "$work/p11kit-$kind.log" 2>&1 &
          pids+=($!)
          p11kit_pid=$!
          for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
          if [ ! -S "$sock" ]; then
            echo "skip $variant/$kind: p11-kit server did not start:" >&2
            cat "$work/p11kit-$kind.log" >&2
            continue
          fi
          export P11_KIT_SERVER_ADDRESS=unix:path=$sock
          write_openssl "$work/openssl-$variant-$kind.cnf" "$p11kit_client"
          envs=(P11_KIT_SERVER_ADDRESS)
        fi
        export OPENSSL_CONF=$work/openssl-$variant-$kind.cnf
        write_nginx "$dir" "$port" "$KMRA_BENCH_CERT" "engine:pkcs11:$KMRA_BENCH_URI" "${envs[@]}" ;;
      *) echo "handshake.sh: unknown variant $variant" >&2; exit 2 ;;
    esac
    cacert=$work/$kind.crt
    [ "$variant" = token ] || [ "$variant" = p11kit ] && cacert=$KMRA_BENCH_CERT
    if start_nginx "$dir" "$port" "$cacert"; then
      port_of[$variant]=$port
      roots_of[$variant]="${pids[-1]}"
      [ "$variant" = p11kit ] && roots_of[$variant]+=" $p11kit_pid"
      started+=("$variant")
    fi
  done
  declare -A results=() ratios=() cpus=() cpu_ratios=()
  for r in $(seq "$runs"); do
    declare -A this_run=() this_cpu=()
    for variant in "${started[@]}"; do
      # shellcheck disable=SC2086  # roots_of holds one or two PIDs
      before=$(tree_cpu_ticks ${roots_of[$variant]})
      this_run[$variant]=$(measure "${port_of[$variant]}")
      # shellcheck disable=SC2086
      after=$(tree_cpu_ticks ${roots_of[$variant]})
      # Server-side CPU microseconds per handshake.
      this_cpu[$variant]=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$requests" \
        'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
      results[$variant]+="${this_run[$variant]} "
      cpus[$variant]+="${this_cpu[$variant]} "
    done
    # Ratios to the PEM run of the same round: handshakes per second, and handshakes per server
    # CPU-second (PEM's CPU per handshake over the variant's), which other tenants disturb far less.
    for variant in "${started[@]}"; do
      [ -n "${this_run[pem]:-}" ] || continue
      ratios[$variant]+="$(awk -v a="${this_run[$variant]}" -v b="${this_run[pem]}" \
        'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }') "
      cpu_ratios[$variant]+="$(awk -v a="${this_cpu[$variant]}" -v b="${this_cpu[pem]}" \
        'BEGIN { printf "%.4f", (a > 0 ? b / a : 0) }') "
    done
  done
  for variant in "${started[@]}"; do
    printf '%-8s %-4s %s\n' "$variant" "$kind" "${results[$variant]}" >&2
    median[$variant.$kind]=$(median_of "${results[$variant]}" %s)
    printf '%-8s %-4s %s (server CPU us per handshake)\n' "$variant" "$kind" "${cpus[$variant]}" >&2
    cpu_median[$variant.$kind]=$(median_of "${cpus[$variant]}" %.0f)
    if [ -n "${ratios[$variant]:-}" ]; then
      ratio_median[$variant.$kind]=$(median_of "${ratios[$variant]}" %.2f)
      cpu_ratio_median[$variant.$kind]=$(median_of "${cpu_ratios[$variant]}" %.2f)
    fi
  done
  # Stop this key's nginx and p11-kit processes (the key server stays for the next key).
  for p in "${pids[@]}"; do
    [ "$p" = "${KMRA_BENCH_SERVER_PID:-}" ] && continue
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=(${KMRA_BENCH_SERVER_PID:-})
done

echo
echo "| key | variant | median handshakes/s | ratio to PEM | server CPU per handshake | ratio to PEM (handshakes per CPU-second) |"
echo "|---|---|---|---|---|---|"
for kind in $keys; do
  for variant in $variants; do
    m=${median[$variant.$kind]:-}
    [ -n "$m" ] || continue
    printf '| %s | %s | %.0f | %s | %s us | %s |\n' "$kind" "$variant" "$m" \
      "${ratio_median[$variant.$kind]:--}" "${cpu_median[$variant.$kind]:--}" \
      "${cpu_ratio_median[$variant.$kind]:--}"
  done
done
echo "($runs rounds x $requests handshakes, $clients clients; ratios are medians of per-round ratios)"
