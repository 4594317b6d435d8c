#!/usr/bin/env bash
# The key-encryption key of signing keys kept in the database, on the embedded store: --key-file
# must be mode 0600 and hold 32 bytes as 64 hex digits; with it the keys move into the database
# (encrypted), after which a command without the key is refused with a message saying what to give,
# and a wrong key is refused too. The key never appears in any output.
# Usage: tests/system/key_file.sh path/to/ucr
set -euo pipefail
UCR=${1:?usage: key_file.sh path/to/ucr}
W=$(mktemp -d "${TMPDIR:-/tmp}/ucr-key-file.XXXXXX")
trap 'rm -rf "$W"' EXIT
unset UCR_KEY_ENCRYPTION_KEY UCR_DATABASE
fail() { echo "key_file: FAIL: $*" >&2; exit 1; }
KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

# expect_refusal TEXT ARGS...: the command exits non-zero and says TEXT on standard error.
expect_refusal() {
  local text=$1; shift
  if "$UCR" "$@" >"$W/out" 2>"$W/err"; then fail "ucr $* succeeded"; fi
  grep -qF -- "$text" "$W/err" || fail "ucr $*: expected '$text', got: $(cat "$W/err")"
  ! grep -qF "$KEY" "$W/out" "$W/err" || fail "ucr $* printed the key"
}

printf '%s\n' "$KEY" >"$W/kek"
chmod 644 "$W/kek"
expect_refusal "chmod 600" admin user list --data "$W/data" --key-file "$W/kek"
chmod 600 "$W/kek"
printf 'not-a-key\n' >"$W/bad"
chmod 600 "$W/bad"
expect_refusal "64 hex digits" admin user list --data "$W/data" --key-file "$W/bad"

printf 'key-file-password\n' | "$UCR" admin user add kf --role integration --password-stdin --data "$W/data" \
  --key-file "$W/kek" >"$W/out" 2>"$W/err" || fail "user add with the key file: $(cat "$W/err")"
"$UCR" admin token --user kf --data "$W/data" --key-file "$W/kek" >"$W/token" 2>"$W/err" ||
  fail "token with the key file: $(cat "$W/err")"
! grep -qF "$KEY" "$W/token" "$W/err" || fail "the key was printed"
# The same key from the environment works; a token is made by the key in the database.
UCR_KEY_ENCRYPTION_KEY=$KEY "$UCR" admin token --user kf --data "$W/data" >/dev/null 2>"$W/err" ||
  fail "token with UCR_KEY_ENCRYPTION_KEY: $(cat "$W/err")"
[[ ! -d "$W/data/keys" ]] || [[ -z "$(ls -A "$W/data/keys")" ]] || fail "signing keys were written to DATA/keys"

expect_refusal "holds encrypted signing keys" admin token --user kf --data "$W/data"
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$W/other"
chmod 600 "$W/other"
expect_refusal "not the one it was encrypted with" admin token --user kf --data "$W/data" --key-file "$W/other"
echo "key_file: passed"
