# shellcheck shell=bash
# tap.sh - TAP output for shell tests in tests/integration/*.sh.
#
# Source it, check things, end with tap_done:
#
#   . "$KT_TEST_ROOT/tests/lib/tap.sh"
#   tap_ok "bus answers readyz" curl -fsS "http://127.0.0.1:$port/readyz"
#   tap_is "$(psql ... -c 'select 1')" 1 "superuser can query"
#   tap_done
#
# Each check prints `ok N - name` or `not ok N - name` (with `# ` lines of
# diagnosis after a failure) on stdout; tap_done prints the plan `1..N` and
# exits 1 if anything failed, so tests/run.sh counts both the lines and the
# exit status. Names should read as a sentence about what holds.

TAP_N=0
TAP_FAILED=0

# tap_diag TEXT...: a diagnosis line (stays in the TAP stream as a comment).
tap_diag() {
    local line
    while IFS= read -r line; do
        printf '# %s\n' "$line"
    done <<<"$*"
}

tap_pass() {
    TAP_N=$((TAP_N + 1))
    printf 'ok %d - %s\n' "$TAP_N" "$1"
}

# tap_fail NAME [DIAGNOSIS]
tap_fail() {
    TAP_N=$((TAP_N + 1))
    TAP_FAILED=$((TAP_FAILED + 1))
    printf 'not ok %d - %s\n' "$TAP_N" "$1"
    [ -z "${2:-}" ] || tap_diag "$2"
}

# tap_ok NAME CMD...: passes if CMD exits 0; its output is shown only on failure.
tap_ok() {
    local name=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ]; then
        tap_pass "$name"
    else
        tap_fail "$name" "command: $*
exit status: $rc
$out"
    fi
}

# tap_fails NAME CMD...: passes if CMD exits non-zero (a refusal that must happen).
tap_fails() {
    local name=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ]; then
        tap_pass "$name"
    else
        tap_fail "$name" "command succeeded but should have failed: $*
$out"
    fi
}

# tap_is GOT WANT NAME
tap_is() {
    if [ "$1" = "$2" ]; then
        tap_pass "$3"
    else
        tap_fail "$3" "got:  '$1'
want: '$2'"
    fi
}

# tap_like GOT REGEX NAME (bash extended regular expression)
tap_like() {
    if [[ $1 =~ $2 ]]; then
        tap_pass "$3"
    else
        tap_fail "$3" "got:  '$1'
does not match: $2"
    fi
}

# tap_skip NAME REASON
tap_skip() {
    TAP_N=$((TAP_N + 1))
    printf 'ok %d - %s # SKIP %s\n' "$TAP_N" "$1" "$2"
}

# tap_bail REASON: the test cannot go on (a server it needs is not there).
tap_bail() {
    printf 'Bail out! %s\n' "$1"
    exit 2
}

tap_done() {
    printf '1..%d\n' "$TAP_N"
    if [ "$TAP_FAILED" -eq 0 ] && [ "$TAP_N" -gt 0 ]; then
        exit 0
    fi
    exit 1
}
