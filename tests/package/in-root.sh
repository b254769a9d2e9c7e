#!/bin/bash
# Runs inside the fresh Debian 12 root of tests/package/install-test (as root, in a chroot): installs
# the packages as a user would and checks what they promise. Each step says what it checks; the first
# failure stops the run with a message naming the step.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
current="setup"
step() { current=$*; printf '==> install-test: %s\n' "$*" >&2; }
fail() { printf 'install-test: FAILED in "%s": %s\n' "$current" "$*" >&2; exit 1; }
module=/usr/lib/x86_64-linux-gnu/pkcs11/libkmra-pkcs11.so
pids=()  # servers started in the background: stopped on every exit
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap 'rc=$?; cleanup; [ $rc = 0 ] || printf "install-test: FAILED in \"%s\" (exit %s)\n" "$current" $rc >&2' EXIT

# --- what the packages pull -------------------------------------------------------------------
step "apt-get install ./openkmra_*.deb ./libkmra-pkcs11_*.deb into minimal Debian 12 (no recommends)"
apt-get update -qq
apt-get install -y -qq --no-install-recommends /srv/debs/openkmra_*.deb /srv/debs/libkmra-pkcs11_*.deb \
  >/tmp/apt.log 2>&1 || { tail -n 30 /tmp/apt.log >&2; fail "apt-get install"; }
for p in softhsm2 p11-kit p11-kit-modules libengine-pkcs11-openssl adduser; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || fail "$p was not pulled in"
done
for f in /usr/bin/kmra "$module"; do
  if ldd "$f" | grep -q "not found"; then ldd "$f" >&2; fail "$f: a shared library is missing"; fi
done

step "kmra --version"
version=$(kmra --version) || fail "kmra --version exited non-zero"
echo "$version"
expected=$(dpkg-query -W -f='${Version}' openkmra)
[[ "$version" == *"$expected"* ]] || fail "kmra --version says '$version', the package is $expected"

step "files, conffile, user and directories"
for f in /lib/systemd/system/kmra-server.service /lib/systemd/system/kmra-loadkey@.service \
         /lib/systemd/system/kmra-loadkey@.timer /lib/systemd/system/kmra-p11-kit.service \
         /usr/share/p11-kit/modules/kmra.module /etc/kmra/token.conf \
         /usr/share/doc/openkmra/examples/kmra-server.toml \
         /usr/share/doc/openkmra/examples/systemd/kmra-server.toml "$module"; do
  [ -e "$f" ] || fail "$f is missing"
done
dpkg-query -W -f='${Conffiles}\n' libkmra-pkcs11 | grep -q ' /etc/kmra/token.conf ' ||
  fail "/etc/kmra/token.conf is not a conffile"
getent passwd kmra >/dev/null || fail "no kmra user"
[ "$(getent passwd kmra | cut -d: -f7)" = /usr/sbin/nologin ] || fail "kmra has a login shell"
[ "$(id -u kmra)" -lt 1000 ] || fail "kmra is not a system user"
for d in /var/lib/kmra /var/lib/kmra/token /var/lib/kmra/certs; do
  [ "$(stat -c '%U:%G %a' "$d")" = "kmra:kmra 700" ] || fail "$d is $(stat -c '%U:%G %a' "$d")"
done

# Test tools, installed only now: the packages must not need them.
step "install the checks' tools (curl, opensc, systemd)"
apt-get install -y -qq --no-install-recommends curl opensc systemd >/tmp/apt-tools.log 2>&1 ||
  { tail -n 30 /tmp/apt-tools.log >&2; fail "apt-get install curl opensc systemd"; }

# "${as_unit[@]}" COMMAND runs COMMAND as the units' user with their privilege limits, what systemd
# does with User=kmra, Group=kmra, NoNewPrivileges=yes, CapabilityBoundingSet= (empty), in a clean
# environment. setpriv and env exec, so a background COMMAND's $! is the program's own pid.
as_unit=(setpriv --reuid=kmra --regid=kmra --init-groups --no-new-privs --bounding-set=-all
  --inh-caps=-all env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
# The value of KEY= in the [Service] section of an installed unit, %i replaced by $3.
unit_value() {
  sed -n "s/^$2=//p" "/lib/systemd/system/$1" | tail -n 1 | sed "s/%i/${3:-}/g"
}
# Checks that process $1 runs as kmra, without privileges; $2 names it.
check_unprivileged() {
  local uid status
  uid=$(id -u kmra)
  status=$(cat "/proc/$1/status") || fail "$2 is not running"
  grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid$" <<<"$status" ||
    fail "$2 does not run as kmra: $(grep ^Uid: <<<"$status")"
  grep -q "^CapBnd:[[:space:]]*0000000000000000$" <<<"$status" || fail "$2 keeps capabilities"
  grep -q "^NoNewPrivs:[[:space:]]*1$" <<<"$status" || fail "$2 may gain privileges"
}
# Waits until file $1 is non-empty while process $2 lives (60 s at most).
wait_file() {
  local i
  for i in $(seq 600); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# --- the key server ---------------------------------------------------------------------------
step "kmra server --dev as kmra answers /healthz"
dev=/var/lib/kmra/dev
"${as_unit[@]}" kmra server --dev --dir "$dev" --listen 127.0.0.1:0 --port-file /var/lib/kmra/dev.port \
  >/tmp/dev-server.log 2>&1 &
dev_pid=$!
pids+=("$dev_pid")
wait_file /var/lib/kmra/dev.port "$dev_pid" || { cat /tmp/dev-server.log >&2; fail "the dev server did not start"; }
dev_port=$(cat /var/lib/kmra/dev.port)
health=$(curl -sS --fail --cacert "$dev/tls/ca.pem" --cert "$dev/tls/client.pem" \
  --key "$dev/tls/client.key" "https://127.0.0.1:$dev_port/healthz") ||
  { cat /tmp/dev-server.log >&2; fail "GET /healthz"; }
echo "/healthz: $health"
check_unprivileged "$dev_pid" "kmra server --dev"

step "kmra-server.service's command, user and paths with the packaged example configuration (lab PKI)"
# docs/deployment.md, "The key server": a lab PKI with simulated SGX platforms, SoftHSM2 as kmra.
kmra pki init --dir /etc/kmra/pki >/tmp/pki.log 2>&1 || { cat /tmp/pki.log >&2; fail "kmra pki init"; }
chown -R kmra:kmra /etc/kmra/pki
ln -s pki/tls /etc/kmra/tls
cp /usr/share/doc/openkmra/examples/systemd/softhsm2.conf /etc/kmra/softhsm2.conf
install -d -o kmra -g kmra -m 0700 /var/lib/kmra/softhsm
install -o kmra -g kmra -m 0600 /dev/null /etc/kmra/hsm.pin
printf '%s' 1234-hsm-user > /etc/kmra/hsm.pin
runuser -u kmra -- env SOFTHSM2_CONF=/etc/kmra/softhsm2.conf softhsm2-util --init-token --free \
  --label kmra --so-pin 5678-hsm-so --pin 1234-hsm-user >/dev/null || fail "softhsm2-util --init-token"
# The example's lab alternative, on a free port of this machine.
sed -e 's/^pccs_url = .*/# &/' -e 's/^collateral_dir = ""/# &/' -e 's/^#   \(trusted_root\|trust_simulated_root\|collateral_dir\|pccs_url\)/\1/' \
    -e 's/^address = .*/address = "127.0.0.1"/' -e 's/^port = 8443/port = 0\nport_file = "\/var\/lib\/kmra\/server.port"/' \
    /usr/share/doc/openkmra/examples/systemd/kmra-server.toml >/etc/kmra/kmra-server.toml
[ "$(unit_value kmra-server.service User)" = kmra ] || fail "kmra-server.service does not run as kmra"
exec_start=$(unit_value kmra-server.service ExecStart)
[ "${exec_start%% *}" = /usr/bin/kmra ] || fail "ExecStart is '$exec_start'"
read -r -a argv <<<"$exec_start"
(cd "$(unit_value kmra-server.service WorkingDirectory)" && umask "$(unit_value kmra-server.service UMask)" &&
  exec "${as_unit[@]}" "${argv[@]}") >/tmp/server.log 2>&1 &
server_pid=$!
pids+=("$server_pid")
wait_file /var/lib/kmra/server.port "$server_pid" || { cat /tmp/server.log >&2; fail "kmra-server's command did not start"; }
port=$(cat /var/lib/kmra/server.port)
curl -sS --fail --cacert /etc/kmra/tls/ca.pem --cert /etc/kmra/tls/client.pem \
  --key /etc/kmra/tls/client.key "https://127.0.0.1:$port/healthz" >/dev/null ||
  { cat /tmp/server.log >&2; fail "GET /healthz of the configured server"; }
check_unprivileged "$server_pid" "kmra-server.service's command"
[ "$(stat -c '%U %a' /var/lib/kmra/state.db)" = "kmra 600" ] ||
  fail "the state store is $(stat -c '%U %a' /var/lib/kmra/state.db), not kmra 600"
kill "$server_pid"; wait "$server_pid" || true

step "systemd-analyze verify and security of the installed units"
units=(kmra-server.service kmra-loadkey@.service kmra-loadkey@.timer kmra-p11-kit.service)
# It exits 0 on an unknown or misspelt setting, but says so: any output fails.
(cd /lib/systemd/system && systemd-analyze verify --man=no "${units[@]/#/./}") >/tmp/verify.log 2>&1 ||
  { cat /tmp/verify.log >&2; fail "systemd-analyze verify"; }
[ ! -s /tmp/verify.log ] || { cat /tmp/verify.log >&2; fail "systemd-analyze verify complains"; }
for u in kmra-server.service kmra-loadkey@web.service kmra-p11-kit.service; do
  # Exposure 0-100 (systemd prints it as 0.0-10.0); 20 = 2.0, "OK".
  systemd-analyze security --offline=true --threshold=20 "$u" >/tmp/security.log 2>&1 ||
    { cat /tmp/security.log >&2; fail "$u: exposure above 2.0"; }
  grep "Overall exposure" /tmp/security.log
done

# --- the token --------------------------------------------------------------------------------
step "the token with the shipped /etc/kmra/token.conf (Gramine) fails clearly outside SGX"
if out=$("${as_unit[@]}" pkcs11-tool --module "$module" -L 2>&1); then
  echo "$out" >&2; fail "the Gramine default opened without /dev/attestation"
fi
grep -q "kmra-pkcs11: C_Initialize" <<<"$out" || { echo "$out" >&2; fail "no clear error line"; }
grep "kmra-pkcs11" <<<"$out" | head -n 1

step "kmra token init as kmra (simulated SGX platform of the dev key server)"
cat >/etc/kmra/token.conf <<CONF
token_dir = "/var/lib/kmra/token"
platform = "sim"
platform_dir = "$dev/sgx/platform-1"
CONF
"${as_unit[@]}" env SO_PIN=5678-token-so USER_PIN=1234-token kmra token init --label kmra \
  --so-pin-env SO_PIN --pin-env USER_PIN || fail "kmra token init"

step "p11-kit list-modules shows the module"
modules=$("${as_unit[@]}" p11-kit list-modules 2>&1) || { echo "$modules" >&2; fail "p11-kit list-modules"; }
grep -A8 "^kmra: " <<<"$modules" || { echo "$modules" >&2; fail "the kmra module is not listed"; }
grep -A8 "^kmra: " <<<"$modules" | grep -q "token: kmra" || fail "its token is not listed"

step "pkcs11-tool --module $module -L"
slots=$("${as_unit[@]}" pkcs11-tool --module "$module" -L) || fail "pkcs11-tool -L"
echo "$slots"
grep -q "token label *: kmra" <<<"$slots" || fail "pkcs11-tool does not see the token"

step "kmra-loadkey@demo.service's command, twice (idempotent), as kmra"
install -d /etc/kmra/loadkey
install -o kmra -g kmra -m 0600 /dev/null /etc/kmra/token.pin
printf '%s' 1234-token > /etc/kmra/token.pin
cat >/etc/kmra/loadkey/demo.toml <<CONF
[loadkey]
token = "kmra"
pin_file = "/etc/kmra/token.pin"
key_id = "demo"
host = "127.0.0.1"
port = $dev_port
api = "v1"
ca = "$dev/tls/ca.pem"
cert = "$dev/tls/client.pem"
key = "$dev/tls/client.key"
CONF
[ "$(unit_value kmra-loadkey@.service User)" = kmra ] || fail "kmra-loadkey@ does not run as kmra"
read -r -a argv <<<"$(unit_value kmra-loadkey@.service ExecStart demo)"
uri1=$("${as_unit[@]}" KMRA_TOKEN_CONF=/etc/kmra/token.conf "${argv[@]}") || fail "first kmra loadkey"
uri2=$("${as_unit[@]}" KMRA_TOKEN_CONF=/etc/kmra/token.conf "${argv[@]}") || fail "second kmra loadkey"
echo "$uri1"
[ "$uri1" = "$uri2" ] || fail "the re-run printed '$uri2', the first run '$uri1'"
[ -s /var/lib/kmra/certs/demo.pem ] || fail "no certificate chain in /var/lib/kmra/certs/demo.pem"
objects=$("${as_unit[@]}" pkcs11-tool --module "$module" --login --pin 1234-token -O 2>/dev/null) ||
  fail "pkcs11-tool -O"
[ "$(grep -c '^Private Key Object' <<<"$objects")" = 1 ] ||
  { echo "$objects" >&2; fail "the token does not hold exactly one private key after two runs"; }

step "kmra-p11-kit.service's command as kmra: www-data reaches the token through the socket, others not"
[ "$(unit_value kmra-p11-kit.service User)" = kmra ] || fail "kmra-p11-kit does not run as kmra"
[ "$(unit_value kmra-p11-kit.service AmbientCapabilities)" = CAP_CHOWN ] || fail "unexpected capabilities"
install -d -o kmra -g kmra -m 0755 /run/kmra      # RuntimeDirectory=kmra
read -r -a argv <<<"$(unit_value kmra-p11-kit.service ExecStart)"
setpriv --reuid=kmra --regid=kmra --init-groups --no-new-privs --inh-caps=+chown --ambient-caps=+chown \
  --bounding-set=-all,+chown env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  "$(unit_value kmra-p11-kit.service Environment)" "${argv[@]}" >/tmp/p11-kit-server.log 2>&1 &
p11_pid=$!
pids+=("$p11_pid")
for i in $(seq 100); do [ -S /run/kmra/p11-kit.sock ] && break; sleep 0.1; done
[ -S /run/kmra/p11-kit.sock ] || { cat /tmp/p11-kit-server.log >&2; fail "no socket /run/kmra/p11-kit.sock"; }
# Connecting needs write permission on the socket: only its owner, www-data, may have it.
sock_mode=$(stat -c '%a' /run/kmra/p11-kit.sock)
[ "$(stat -c '%U:%G' /run/kmra/p11-kit.sock)" = www-data:www-data ] && (((8#$sock_mode & 8#022) == 0)) ||
  fail "the socket is $(stat -c '%U:%G %a' /run/kmra/p11-kit.sock)"
client=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
remote=$(setpriv --reuid=www-data --regid=www-data --init-groups env -i \
  P11_KIT_SERVER_ADDRESS=unix:path=/run/kmra/p11-kit.sock pkcs11-tool --module "$client" -L 2>&1) ||
  { echo "$remote" >&2; cat /tmp/p11-kit-server.log >&2; fail "www-data: pkcs11-tool through p11-kit-client"; }
grep -q "token label *: kmra" <<<"$remote" || { echo "$remote" >&2; fail "www-data does not see the token"; }
echo "www-data sees: $(grep 'token label' <<<"$remote")"
if other=$(setpriv --reuid=nobody --regid=nogroup --clear-groups env -i \
  P11_KIT_SERVER_ADDRESS=unix:path=/run/kmra/p11-kit.sock pkcs11-tool --module "$client" -L 2>&1) &&
  grep -q "token label" <<<"$other"; then
  echo "$other" >&2; fail "user nobody reached the token through the socket"
fi
echo "nobody is refused"

cleanup
pids=()
step "done"
