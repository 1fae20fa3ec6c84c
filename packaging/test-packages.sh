#!/usr/bin/env bash
# packaging/test-packages.sh — the Debian packages, built and used as an operator would use them.
#
#   bash packaging/test-packages.sh [LOG_DIR]      (scripts/test.sh runs it as the "packages" suite)
#
# Two modes:
#   system  (CI=true, or IG_TEST_PACKAGE=1; root): dpkg -i both packages, check the user, folders and
#           permissions the maintainer scripts made, run the installed binary as the infergate user on
#           the installed /etc/infergate/infergate.yaml against ig-sim on 127.0.0.1:8000, reload
#           (SIGHUP) and stop (SIGTERM) it, then dpkg --purge: the machine is left as it was.
#   dev     (otherwise, or IG_TEST_PACKAGE=0): nothing touches the system. `cmake --install` into a
#           temporary DESTDIR instead, the same checks on that tree, the installed config rewritten
#           to that tree and to free ports.
# Both build the packages (scripts/package.sh), check their contents and control files, and build a
# third-party engine plugin outside the tree with `cc $(pkg-config --cflags infergate-plugin)`, drop
# it into `pkg-config --variable=plugindir`, and check that the gateway loads it and serves through it.
#
# Prints "ok - ..." / "not ok - ..." lines, then "# pass N" and "# fail N"; exit 0 only without
# failures. Environment: IG_SIM (the simulator, default build/tests/simulator/ig-sim),
# IG_PACKAGE_DIR (default build-pkg), IG_DEV_PLUGINS (the dev build's plugin folder, default
# build/plugins: the packaged plugin set must equal it).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
LOGDIR="${1:-$ROOT/build-test-logs/packages}"
mkdir -p "$LOGDIR"
SIM="${IG_SIM:-$ROOT/build/tests/simulator/ig-sim}"
PKGDIR="${IG_PACKAGE_DIR:-build-pkg}"
DEV_PLUGINS="${IG_DEV_PLUGINS:-$ROOT/build/plugins}"

MODE=dev
if [ "${IG_TEST_PACKAGE:-}" = 1 ] || { [ "${CI:-}" = true ] && [ "${IG_TEST_PACKAGE:-}" != 0 ]; }; then
  MODE=system
fi

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
notok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND... : ok when the command succeeds; its output is shown when it does not
check() {
  local desc="$1" out
  shift
  if out="$("$@" 2>&1)"; then ok "$desc"; else notok "$desc"; printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 30; fi
}
finish() {
  echo "# pass $PASS"
  echo "# fail $FAIL"
  [ "$FAIL" -eq 0 ]
  exit $?
}

TMP="$(mktemp -d -t ig-packages.XXXXXX)"
chmod 0755 "$TMP" # the infergate user reads the test's configs here
PIDS=()
INSTALLED=0
THIRD_SO=""
cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
  [ -n "$THIRD_SO" ] && rm -f "$THIRD_SO"
  if [ "$INSTALLED" = 1 ]; then dpkg --purge infergate-dev infergate >"$LOGDIR/purge-on-exit.log" 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM INT # scripts/test.sh's timeout: clean up (purge) on the way out

echo "# mode: $MODE"

# ---- build ----------------------------------------------------------------------------------
if bash scripts/package.sh >"$LOGDIR/package.out" 2>"$LOGDIR/package.log"; then
  ok "scripts/package.sh built the packages"
else
  notok "scripts/package.sh built the packages (see $LOGDIR/package.log)"
  tail -n 30 "$LOGDIR/package.log" | sed 's/^/#   /'
  finish
fi
DEB="$(ls "$PKGDIR"/infergate_*.deb)"
DEBDEV="$(ls "$PKGDIR"/infergate-dev_*.deb)"
VERSION="$(dpkg-deb -f "$DEB" Version)"

# ---- contents and control files --------------------------------------------------------------
deb_files() { dpkg-deb -c "$1" | awk '$1 ~ /^-/ {print substr($6, 2)}' | sort; }
deb_files "$DEB" >"$TMP/runtime.list"
deb_files "$DEBDEV" >"$TMP/dev.list"
has_files() { # LIST FILE...
  local list="$1" f missing=0
  shift
  for f in "$@"; do grep -qxF "$f" "$list" || { echo "missing: $f"; missing=1; }; done
  return $missing
}
PLUGDIR_REL="$(grep -m1 -oE '^/usr/lib/[^/]+/infergate/plugins/' "$TMP/runtime.list")"
check "infergate holds the binary, config, unit and docs" has_files "$TMP/runtime.list" /usr/bin/infergate \
  /etc/infergate/infergate.yaml /lib/systemd/system/infergate.service /usr/share/doc/infergate/README.md
plugin_set() { # the plugin names in the package vs the dev build's plugin folder
  local want got
  want="$(cd "$DEV_PLUGINS" 2>/dev/null && ls -- *.so | sort | tr '\n' ' ')"
  got="$(sed -n "s#^${PLUGDIR_REL}##p" "$TMP/runtime.list" | tr '\n' ' ')"
  echo "package: $got"
  echo "dev build: $want"
  [ -n "$got" ] && [ "$got" = "$want" ]
}
check "infergate holds every plugin of the dev build in ${PLUGDIR_REL:-<no plugin folder>}" plugin_set
ui_files() { # the console as the build copies it (scripts/copy-ui.cmake), none of ui/'s npm files
  has_files "$TMP/runtime.list" /usr/share/infergate/ui/console/index.html /usr/share/infergate/ui/portal/index.html \
    /usr/share/infergate/ui/assets/app.js /usr/share/infergate/ui/vendor/chart.js/dist/chart.umd.min.js || return 1
  ! grep -E '^/usr/share/infergate/ui/(node_modules|package(-lock)?\.json|vendor\.txt|README\.md)' "$TMP/runtime.list"
}
check "infergate holds the console and portal with their vendored Chart.js, without node_modules" ui_files
check "infergate-dev holds the ABI headers, the .pc file and the guide" has_files "$TMP/dev.list" \
  /usr/include/infergate/plugin.h /usr/include/infergate/json.h \
  "${PLUGDIR_REL%infergate/plugins/}pkgconfig/infergate-plugin.pc" /usr/share/doc/infergate-dev/plugins.md
control() {
  dpkg-deb -e "$DEB" "$TMP/control"
  echo "conffiles: $(cat "$TMP/control/conffiles")"
  [ "$(cat "$TMP/control/conffiles")" = /etc/infergate/infergate.yaml ] || return 1
  local s
  for s in postinst prerm postrm; do
    [ -x "$TMP/control/$s" ] && sh -n "$TMP/control/$s" || { echo "$s: missing or not valid sh"; return 1; }
  done
  local dep
  dep="$(dpkg-deb -f "$DEB" Depends)"
  echo "Depends: $dep"
  for lib in libc6 libh2o0.13 libuv1 libyaml-0-2 libssl3 libsqlite3-0 libhiredis libpq5; do
    [[ "$dep" == *"$lib"* ]] || { echo "Depends lacks $lib"; return 1; }
  done
}
check "infergate's control: conffile, maintainer scripts, Depends from dpkg-shlibdeps" control

# ---- install -----------------------------------------------------------------------------------
if [ "$MODE" = system ]; then
  [ "$(id -u)" = 0 ] || { notok "system mode needs root"; finish; }
  # installed, or removed with its config left: either is someone's, and a purge would take it
  if dpkg-query -W -f='${Status}\n' infergate infergate-dev 2>/dev/null | grep -qv 'not-installed$'; then
    notok "infergate is installed (or its config is) on this machine: not touching it"
    finish
  fi
  INSTALLED=1
  if dpkg -i "$DEB" "$DEBDEV" >"$LOGDIR/dpkg-install.log" 2>&1; then
    ok "dpkg -i infergate infergate-dev"
  else
    notok "dpkg -i infergate infergate-dev"; tail -n 30 "$LOGDIR/dpkg-install.log" | sed 's/^/#   /'; finish
  fi
  ROOTFS=""
  export PKG_CONFIG_PATH=""
  PCDEF=()
else
  ROOTFS="$TMP/root"
  if DESTDIR="$ROOTFS" cmake --install "$PKGDIR" >"$LOGDIR/cmake-install.log" 2>&1; then
    ok "cmake --install into a DESTDIR"
  else
    notok "cmake --install into a DESTDIR"; tail -n 30 "$LOGDIR/cmake-install.log" | sed 's/^/#   /'; finish
  fi
  same_as_debs() {
    (cd "$ROOTFS" && find . -type f -o -type l | sed 's/^\.//' | sort) >"$TMP/destdir.list"
    sort -m "$TMP/runtime.list" "$TMP/dev.list" >"$TMP/debs.list"
    diff "$TMP/debs.list" "$TMP/destdir.list"
  }
  check "cmake --install installs exactly the packages' files" same_as_debs
  export PKG_CONFIG_PATH="$ROOTFS${PLUGDIR_REL%infergate/plugins/}pkgconfig"
  PCDEF=(--define-variable=prefix="$ROOTFS/usr")
fi
BIN="$ROOTFS/usr/bin/infergate"
CONF="$ROOTFS/etc/infergate/infergate.yaml"
PLUGINDIR="$ROOTFS$PLUGDIR_REL"
PLUGINDIR="${PLUGINDIR%/}"

elf_checks() { # no RUNPATH anywhere; each plugin exports its descriptor and nothing else
  local f bad=0 exports
  for f in "$BIN" "$PLUGINDIR"/*.so; do
    if readelf -d "$f" | grep -qE 'RPATH|RUNPATH'; then echo "$f has an RPATH/RUNPATH"; bad=1; fi
  done
  for f in "$PLUGINDIR"/*.so; do
    exports="$(nm -D --defined-only "$f" | awk '{print $3}' | tr '\n' ' ')"
    [ "$exports" = "infergate_plugin " ] || { echo "$f exports: $exports"; bad=1; }
  done
  return $bad
}
check "installed binary and plugins: no RUNPATH, plugins export only infergate_plugin" elf_checks
check "infergate -v prints the package's version (${VERSION%-*})" \
  bash -c "'$BIN' -v | tee /dev/stderr | grep -qx 'infergate ${VERSION%-*} (plugin ABI [0-9]*)'"

if [ "$MODE" = system ]; then
  account() {
    getent passwd infergate | tee /dev/stderr | grep -qE '^infergate:[^:]*:[0-9]+:[0-9]+:[^:]*:/var/lib/infergate:/usr/sbin/nologin$' \
      && [ "$(stat -c '%U:%G %a' /var/lib/infergate)" = "infergate:infergate 750" ] \
      && [ "$(stat -c '%U:%G %a' /etc/infergate/infergate.yaml)" = "root:infergate 640" ] \
      && [ "$(stat -c '%U:%G %a' "$BIN")" = "root:root 755" ]
  }
  check "postinst: system user infergate, /var/lib/infergate 0750 its own, the config 0640 root:infergate" account
  check "dpkg -i again (upgrade path: the user exists already)" dpkg -i "$DEB" "$DEBDEV"
  check "still one user infergate after reinstalling" bash -c '[ "$(getent passwd | grep -c ^infergate:)" = 1 ]'
  UNIT=/lib/systemd/system/infergate.service
else
  UNIT="$TMP/infergate.service" # the unit with its paths into the DESTDIR, for systemd-analyze
  sed "s#/usr/bin/infergate#$BIN#g; s#/etc/infergate#$ROOTFS/etc/infergate#g" \
    "$ROOTFS/lib/systemd/system/infergate.service" >"$UNIT"
fi
unit_checks() {
  local u="$ROOTFS/lib/systemd/system/infergate.service" line
  for line in 'User=infergate' 'ExecStart=/usr/bin/infergate -c /etc/infergate/infergate.yaml' \
    'ExecStartPre=/usr/bin/infergate -t -c /etc/infergate/infergate.yaml' 'ExecReload=/bin/kill -HUP $MAINPID' \
    'KillSignal=SIGTERM' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/infergate' 'NoNewPrivileges=yes'; do
    grep -qxF "$line" "$u" || { echo "unit lacks: $line"; return 1; }
  done
  if command -v systemd-analyze >/dev/null 2>&1; then
    local out
    out="$(systemd-analyze verify "$UNIT" 2>&1)" || { echo "$out"; return 1; }
    [ -z "$out" ] || { echo "$out"; return 1; } # unknown keys are only warnings: none allowed
    echo "systemd-analyze verify: clean"
  else
    echo "systemd-analyze not available: unit lines checked only"
  fi
}
check "the systemd unit (User, ExecStartPre -t, ExecReload SIGHUP, sandbox; systemd-analyze verify)" unit_checks

# ---- run the installed binary ------------------------------------------------------------------
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
port_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
if [ "$MODE" = system ]; then
  GW_PORT=8080 SIM_PORT=8000
  for p in $GW_PORT $SIM_PORT; do port_free "$p" || { notok "port $p is in use: the installed config needs it"; finish; }; done
  RUNCONF="$CONF"
  STATE=/var/lib/infergate
  # as the service would run it: the infergate user, the installed files (setpriv execs: $! is the gateway)
  AS_USER=(setpriv --reuid=infergate --regid=infergate --init-groups)
else
  GW_PORT="$(free_port)" SIM_PORT="$(free_port)"
  STATE="$TMP/state"
  RUNCONF="$TMP/infergate.yaml" # the installed file, pointed at the DESTDIR and at free ports
  sed -e "s#^  dir: /usr/lib/#  dir: $ROOTFS/usr/lib/#" -e "s#^  stateDir: .*#  stateDir: $STATE#" \
    -e "s#127.0.0.1:8080#127.0.0.1:$GW_PORT#" -e "s#127.0.0.1:8000#127.0.0.1:$SIM_PORT#g" "$CONF" >"$RUNCONF"
  AS_USER=()
fi
GW="http://127.0.0.1:$GW_PORT"

if [ ! -x "$SIM" ]; then
  notok "the engine simulator is not built ($SIM)"
  finish
fi
"$SIM" --listen "127.0.0.1:$SIM_PORT" --served-model-name qwen25-05b-instruct,bge-small-en-v1.5,tp-chat \
  >"$LOGDIR/ig-sim.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q 'listening on' "$LOGDIR/ig-sim.log" && break; sleep 0.1; done
grep -q 'listening on' "$LOGDIR/ig-sim.log" || { notok "ig-sim started on 127.0.0.1:$SIM_PORT"; finish; }

validate() { (cd / && umask 0077 && "${AS_USER[@]}" "$BIN" -t -c "$1"); } # as ExecStartPre, UMask=0077
check "infergate -t accepts the installed config${AS_USER:+ (as the infergate user)}" validate "$RUNCONF"

GW_PID=""
start_gateway() { # NAME CONFIG
  # from /, with the unit's UMask=0077
  (cd / && umask 0077 && exec "${AS_USER[@]}" "$BIN" -c "$2") >"$LOGDIR/$1.out" 2>"$LOGDIR/$1.err" &
  GW_PID=$!
  PIDS+=("$GW_PID")
  local _
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$GW/readyz" 2>/dev/null; then return 0; fi
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "gateway $1 did not become ready"; tail -n 20 "$LOGDIR/$1.err"
  return 1
}
stop_gateway() { # DESCRIPTION: SIGTERM drains and exits 0 (in this shell: wait needs its own child)
  kill -TERM "$GW_PID" 2>/dev/null
  local _ rc=0
  for _ in $(seq 1 600); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$GW_PID" 2>/dev/null; then
    kill -9 "$GW_PID" 2>/dev/null
    wait "$GW_PID" 2>/dev/null
    notok "$1 (still running 60 s after SIGTERM: killed)"
    return
  fi
  wait "$GW_PID" || rc=$?
  if [ "$rc" = 0 ]; then ok "$1"; else notok "$1 (exit status $rc)"; fi
}
# chat MODEL EXPECTED_SUBSTRING... : a non-streamed chat completion answered 200 with every substring
chat() {
  local model="$1" resp code
  shift
  resp="$(curl -sS -m 30 -w '\n%{http_code}' "$GW/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}],\"max_tokens\":8}")" || return 1
  code="${resp##*$'\n'}"
  echo "$code ${resp%$'\n'*}"
  [ "$code" = 200 ] || return 1
  local want
  for want in "$@"; do [[ "$resp" == *"$want"* ]] || { echo "missing: $want"; return 1; }; done
}
sim_requests() { curl -fsS "http://127.0.0.1:$SIM_PORT/sim/stats" | grep -oE '"requests":[0-9]+' | cut -d: -f2; }
reloaded_ok() { # N: wait until infergate_reloads_total{result="ok"} is N
  local _
  for _ in $(seq 1 300); do
    curl -fsS "$GW/metrics" 2>/dev/null | grep -qxF "infergate_reloads_total{result=\"ok\"} $1" && return 0
    sleep 0.1
  done
  curl -fsS "$GW/metrics" | grep reloads_total
  return 1
}

if start_gateway installed "$RUNCONF" >"$TMP/start.log" 2>&1; then
  ok "the installed binary runs on the installed config${AS_USER:+ as the infergate user}"
  if [ "$MODE" = system ]; then
    check "the gateway process runs as infergate" \
      bash -c "[ \"\$(stat -c %U /proc/$GW_PID)\" = infergate ]"
  fi
  before="$(sim_requests)"
  check "a chat completion through the installed gateway reaches ig-sim" \
    chat qwen25-05b-instruct '"object":"chat.completion"' '"completion_tokens":8' 'tok1 tok2'
  check "ig-sim served exactly that one request" bash -c "[ \"$(sim_requests)\" = \"$((before + 1))\" ]"
  kill -HUP "$GW_PID"
  check "SIGHUP (systemctl reload) reloads: infergate_reloads_total{result=\"ok\"} 1" reloaded_ok 1
  check "a chat after the reload" chat qwen25-05b-instruct '"completion_tokens":8'
  stop_gateway "SIGTERM (systemctl stop) drains and exits 0"
else
  notok "the installed binary runs on the installed config"
  sed 's/^/#   /' "$TMP/start.log"
fi

# ---- a third-party plugin, built against the installed headers only ---------------------------
mkdir -p "$TMP/thirdparty"
cat >"$TMP/thirdparty/thirdparty.c" <<'EOF'
/* thirdparty.c — an engine plugin built outside infergate's tree, against the installed headers
 * only: it forwards a chat completion to the engine as it came and answers with what it saw. */
#include <stdio.h>
#include <infergate/plugin.h>

static int tp_prepare(void *state, ig_engine_req_t *r, ig_error_t *err)
{
    if (r->api != IG_API_CHAT_COMPLETIONS)
        return r->host->error(err, "thirdparty serves chat completions only");
    size_t *seen = r->host->palloc(r->pool, sizeof(*seen));
    if (seen == NULL)
        return r->host->error(err, "out of memory");
    *seen = 0;
    r->state = seen;
    r->upstream_path = IG_STR("/v1/chat/completions");
    r->upstream_body[0] = (ig_str_t){r->body.ptr, r->body.len};
    r->nupstream_body = 1;
    return 0;
}

static void tp_data(void *state, ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink)
{
    *(size_t *)r->state += len; /* counted, not passed on */
}

static void tp_end(void *state, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
    char out[320];
    int n = snprintf(out, sizeof(out),
                     "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"finish_reason\":\"stop\","
                     "\"message\":{\"role\":\"assistant\",\"content\":\"thirdparty.so: the engine answered %d "
                     "with %s body\"}}]}",
                     r->upstream_status, *(size_t *)r->state > 0 ? "a" : "no");
    sink->write(sink, out, (size_t)n);
}

static const ig_engine_vtable_t tp_vtable = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_GENERATION,
    .health_path = "/health",
    .prepare = tp_prepare,
    .on_response_data = tp_data,
    .on_response_end = tp_end,
};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "thirdparty",
    .kind = IG_PLUGIN_ENGINE,
    .version = "1.0.0",
    .description = "a third-party engine built against infergate-dev",
    .aliases = (const char *const[]){"ThirdParty", NULL},
    .vtable = &tp_vtable,
};
EOF
build_third() {
  local cflags plugindir
  cflags="$(pkg-config "${PCDEF[@]}" --cflags infergate-plugin)" || return 1
  plugindir="$(pkg-config "${PCDEF[@]}" --variable=plugindir infergate-plugin)" || return 1
  echo "cflags: '$cflags' plugindir: $plugindir"
  [ "$plugindir" = "$PLUGINDIR" ] || { echo "plugindir is not the installed plugin folder $PLUGINDIR"; return 1; }
  # shellcheck disable=SC2086
  (cd "$TMP/thirdparty" && cc $cflags -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror -shared -fPIC \
    -fvisibility=hidden -o thirdparty.so thirdparty.c) || return 1
  install -m 0644 "$TMP/thirdparty/thirdparty.so" "$plugindir/"
}
if check "a plugin built outside the tree with \$(pkg-config --cflags infergate-plugin), installed into its plugindir" \
  build_third; then
  THIRD_SO="$PLUGINDIR/thirdparty.so"
  cat >"$TMP/thirdparty.yaml" <<EOF
server:
  listen: ["127.0.0.1:$GW_PORT"]
  workers: 2
  stateDir: $STATE
plugins:
  dir: $PLUGINDIR
  load: [thirdparty, leastload, billing]
models:
  - name: tp-chat
    engine: ThirdParty
    features: [TextGeneration]
    endpoints: ["http://127.0.0.1:$SIM_PORT"]
EOF
  chmod 0644 "$TMP/thirdparty.yaml"
  check "infergate -t loads the third-party plugin" validate "$TMP/thirdparty.yaml"
  if start_gateway thirdparty "$TMP/thirdparty.yaml" >"$TMP/start.log" 2>&1; then
    ok "the installed gateway starts with the third-party plugin"
    before="$(sim_requests)"
    check "the third-party plugin serves a chat completion" \
      chat tp-chat 'thirdparty.so: the engine answered 200 with a body'
    check "ig-sim served exactly that one request" bash -c "[ \"$(sim_requests)\" = \"$((before + 1))\" ]"
    stop_gateway "SIGTERM: exits 0"
    ledger() { # billing wrote its ledger into the state folder, as the gateway's user, private (UMask)
      local want="root 600"
      [ "$MODE" = system ] && want="infergate 600"
      stat -c '%n %U %a' "$STATE/ledger.db" || return 1
      [ "$(stat -c '%U %a' "$STATE/ledger.db")" = "$want" ]
    }
    check "billing's ledger in stateDir belongs to the gateway's user, mode 0600" ledger
  else
    notok "the installed gateway starts with the third-party plugin"
    sed 's/^/#   /' "$TMP/start.log"
  fi
  rm -f "$THIRD_SO"
  THIRD_SO=""
fi

# ---- remove -------------------------------------------------------------------------------------
if [ "$MODE" = system ]; then
  removed() { # the config and the state stay until purge
    dpkg -r infergate-dev infergate || return 1
    [ ! -e /usr/bin/infergate ] && [ -f /etc/infergate/infergate.yaml ] && [ -f /var/lib/infergate/ledger.db ] \
      && getent passwd infergate >/dev/null \
      && [ "$(dpkg-query -W -f='${Status}' infergate)" = "deinstall ok config-files" ]
  }
  check "dpkg -r removes the program, keeps the config, the state and the user" removed
  kept() { # a ledger is money: purge keeps the folder holding it, and the user owning it
    dpkg --purge infergate 2>&1 | tee /dev/stderr | grep -q 'holds data' || return 1
    [ -f /var/lib/infergate/ledger.db ] && getent passwd infergate >/dev/null && [ ! -e /etc/infergate ]
  }
  check "dpkg --purge with a ledger in /var/lib/infergate keeps it and its user, removes the config" kept
  rm -rf /var/lib/infergate
  userdel infergate 2>/dev/null
  if getent group infergate >/dev/null; then groupdel infergate; fi
  purged() {
    dpkg --purge infergate-dev infergate || return 1
    local left=0 p
    for p in /usr/bin/infergate /etc/infergate /var/lib/infergate "${PLUGDIR_REL%/}" /usr/include/infergate \
      /lib/systemd/system/infergate.service /etc/systemd/system/multi-user.target.wants/infergate.service; do
      if [ -e "$p" ] || [ -L "$p" ]; then echo "left behind: $p"; left=1; fi
    done
    if getent passwd infergate >/dev/null || getent group infergate >/dev/null; then echo "left behind: user/group infergate"; left=1; fi
    if dpkg-query -W -f='${Status}\n' infergate infergate-dev 2>/dev/null | grep -v '^unknown ok not-installed$' | grep -q .; then
      echo "dpkg still knows: $(dpkg-query -W -f='${Package} ${Status}\n' infergate infergate-dev 2>&1)"; left=1
    fi
    return $left
  }
  check "then nothing is left behind (files, folders, user, group, unit links, dpkg's records)" purged
  INSTALLED=0
fi
finish
