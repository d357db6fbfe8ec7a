#!/usr/bin/env bash
# Packaging check: builds, packs, installs the tarball into a fresh ESM project, and uses it
# from there the way a user would (package exports, the CLI bin, a server answering /health).
#
#   scripts/check-pack.sh          # prints "pack ok" on success, exits non-zero otherwise
#
# Runs with the system `node` when it is >= 22.19 (the package's engines); otherwise with the
# project's pinned Node (node_modules/node, the same binary `npx node` runs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/peerpigeon-pack.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

fail() {
  echo "check-pack: FAIL: $*" >&2
  exit 1
}
step() { echo "check-pack: $*"; }

# --- which node ------------------------------------------------------------------------------
node_ok() { # $1 = a node binary; true when it is >= 22.19
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)' 2>/dev/null
}
if command -v node >/dev/null 2>&1 && node_ok "$(command -v node)"; then
  NODE="$(command -v node)"
elif [ -x "$ROOT/node_modules/node/bin/node" ]; then
  NODE="$ROOT/node_modules/node/bin/node"
else
  fail "no Node >= 22.19: system node is $(node -v 2>/dev/null || echo missing) and $ROOT/node_modules/node is not installed (run npm install)"
fi
node_ok "$NODE" || fail "$NODE is $("$NODE" -v), need >= 22.19"
step "using node $("$NODE" -v) ($NODE)"

# --- build and pack --------------------------------------------------------------------------
cd "$ROOT"
step "npm run build"
npm run build >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; fail "npm run build failed"; }

[ -f dist/server/index.js ] || fail "dist/server/index.js was not built"
[ -f dist/server/index.d.ts ] || fail "dist/server/index.d.ts was not built"
[ -f dist/server/cli.js ] || fail "dist/server/cli.js was not built"
[ "$(head -n1 dist/server/cli.js)" = "#!/usr/bin/env node" ] ||
  fail "dist/server/cli.js does not start with '#!/usr/bin/env node' (first line: $(head -n1 dist/server/cli.js))"
if grep -rqE "from ['\"]\.{1,2}/[^'\"]*\.ts['\"]" dist --include='*.js'; then
  fail "dist contains relative imports of .ts files: $(grep -rlE "from ['\"]\.{1,2}/[^'\"]*\.ts['\"]" dist --include='*.js' | head -3 | tr '\n' ' ')"
fi
help="$("$NODE" dist/server/cli.js --help)" || fail "node dist/server/cli.js --help exited with $?"
grep -q "^Usage: peerpigeon-server" <<<"$help" || fail "node dist/server/cli.js --help did not print usage: $help"

HAS_ROOT=1
if [ ! -f dist/index.js ]; then
  HAS_ROOT=0
  echo "check-pack: WARNING: dist/index.js is missing (no src/index.ts yet): the \".\" export \"peerpigeon\" is NOT checked" >&2
fi
for doc in README.md PROTOCOL.md; do
  [ -f "$doc" ] || echo "check-pack: WARNING: $doc is listed in package.json \"files\" but does not exist" >&2
done

step "npm pack"
# prepack rebuilds; the tarball goes into the temp dir so cleanup removes it
TARBALL_NAME="$(npm pack --silent --pack-destination "$WORK" 2>"$WORK/pack.log" | tail -n1)" ||
  { cat "$WORK/pack.log" >&2; fail "npm pack failed"; }
TARBALL="$WORK/$TARBALL_NAME"
[ -f "$TARBALL" ] || { cat "$WORK/pack.log" >&2; fail "npm pack produced no tarball (got '$TARBALL_NAME')"; }

contents="$(tar -tzf "$TARBALL")"
for f in package/package.json package/dist/server/index.js package/dist/server/index.d.ts package/dist/server/cli.js; do
  grep -qxF "$f" <<<"$contents" || fail "$f is missing from the tarball"
done
if grep -qE "^package/(src|test|bench|node_modules)/" <<<"$contents"; then
  fail "the tarball ships files outside dist: $(grep -E "^package/(src|test|bench|node_modules)/" <<<"$contents" | head -3 | tr '\n' ' ')"
fi
step "$TARBALL_NAME: $(wc -l <<<"$contents") files, $(du -k "$TARBALL" | cut -f1) KiB"

# --- install into a fresh project ------------------------------------------------------------
APP="$WORK/app"
mkdir -p "$APP"
echo '{"type":"module"}' >"$APP/package.json"
cd "$APP"
step "npm install $TARBALL_NAME"
npm install --no-audit --no-fund --loglevel=error "$TARBALL" >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "npm install of the tarball failed"; }

# The installed bin, with the chosen node first on PATH (its shebang is `env node`).
BIN="$APP/node_modules/.bin/peerpigeon-server"
[ -x "$BIN" ] || fail "node_modules/.bin/peerpigeon-server was not installed as an executable"
help="$(PATH="$(dirname "$NODE"):$PATH" "$BIN" --help)" || fail "installed peerpigeon-server --help exited with $?"
grep -q "^Usage: peerpigeon-server" <<<"$help" || fail "installed peerpigeon-server --help did not print usage: $help"

# --- use it ------------------------------------------------------------------------------------
{
  if [ "$HAS_ROOT" = 1 ]; then
    echo 'import { PeerPigeonServer } from "peerpigeon"'
  fi
  echo 'import { PeerPigeonServer as S2 } from "peerpigeon/server"'
  if [ "$HAS_ROOT" = 1 ]; then
    echo 'if (typeof PeerPigeonServer !== "function") throw new Error("peerpigeon does not export PeerPigeonServer")'
    echo 'if (PeerPigeonServer !== S2) throw new Error("peerpigeon and peerpigeon/server export different PeerPigeonServer classes")'
  fi
  cat <<'EOF'
if (typeof S2 !== "function") throw new Error("peerpigeon/server does not export PeerPigeonServer")
const server = new S2({ host: "127.0.0.1", port: 0 })
await server.start()
try {
  if (!(server.port > 0)) throw new Error(`no port bound: ${server.port}`)
  const response = await fetch(`http://127.0.0.1:${server.port}/health`)
  const body = await response.text()
  if (!response.ok) throw new Error(`/health answered ${response.status}: ${body}`)
  console.log(`health ${response.status}: ${body.slice(0, 200)}`)
} finally {
  await server.stop()
}
console.log("pack ok")
EOF
} >"$APP/smoke.mjs"

step "smoke test ($( [ "$HAS_ROOT" = 1 ] && echo 'peerpigeon and peerpigeon/server' || echo 'peerpigeon/server only'))"
# the process must also exit by itself once the server is stopped
out="$(timeout 60 "$NODE" smoke.mjs 2>&1)" || { echo "$out" >&2; fail "smoke test failed (exit $?)"; }
echo "$out"
grep -qx "pack ok" <<<"$out" || fail "smoke test did not print 'pack ok'"
