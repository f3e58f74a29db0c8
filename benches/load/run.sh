#!/usr/bin/env bash
# End-to-end load test: hello-world axum and actix-web apps with no auth,
# jwt-auth (HS256/RS256, cache on/off) and the peer crates, and the demo
# binaries as built (`demo-hs256`, `demo-rs256`: `GET /me`, which verifies the
# token and echoes its claims as JSON), driven by wrk.
#
#   benches/load/run.sh            # everything, Markdown tables on stdout
#
# Server pinned to CPU $LOAD_SERVER_CPU (0), wrk to CPU $LOAD_CLIENT_CPU (1).
# Every variant is measured $LOAD_ROUNDS times, round-robin (a whole pass over
# the variants, then the next pass, so drifting background load is spread
# over all of them); the tables give the median RPS and the median p99 of the
# rounds, and every round's RPS. Progress goes to stderr.
# Each server is checked once before it is measured: the token gets 200 and
# `hello bench-user`, no token gets 401, and a token without iss/aud is tried
# (the tables say whether it was accepted).
#
# Environment (defaults in brackets):
#   LOAD_DURATION [10s]       wrk duration of each measured run
#   LOAD_WARMUP [1s]          wrk warm-up before each measured run (0 = none)
#   LOAD_CONNECTIONS [32]     wrk connections
#   LOAD_THREADS [1]          wrk threads
#   LOAD_ROUNDS [3]           measured runs per variant
#   LOAD_WORKERS [1]          server worker threads (both frameworks)
#   LOAD_FRAMEWORKS [axum actix]
#   LOAD_VARIANTS [all]       space-separated variant names to run (plus `none`)
#   LOAD_SERVER_CPU [0]  LOAD_CLIENT_CPU [1]
#   LOAD_SKIP_BUILD [unset]   set to 1 to reuse the last release build
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${LOAD_DURATION:-10s}"
WARMUP="${LOAD_WARMUP:-1s}"
CONNECTIONS="${LOAD_CONNECTIONS:-32}"
THREADS="${LOAD_THREADS:-1}"
ROUNDS="${LOAD_ROUNDS:-3}"
FRAMEWORKS="${LOAD_FRAMEWORKS:-axum actix}"
ONLY_VARIANTS="${LOAD_VARIANTS:-}"
SERVER_CPU="${LOAD_SERVER_CPU:-0}"
CLIENT_CPU="${LOAD_CLIENT_CPU:-1}"
export LOAD_WORKERS="${LOAD_WORKERS:-1}"

log() { printf '%s\n' "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

# --- tools -------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y wrk >&2 || { apt-get update >&2 && apt-get install -y wrk >&2; }
    else
        sudo apt-get install -y wrk >&2
    fi
fi
command -v curl >/dev/null 2>&1 || die "curl is required"
PIN_SERVER=(taskset -c "$SERVER_CPU")
PIN_CLIENT=(taskset -c "$CLIENT_CPU")
if ! command -v taskset >/dev/null 2>&1 || [ "$(nproc)" -lt 2 ]; then
    log "warning: no taskset or fewer than 2 CPUs; server and wrk are not pinned"
    PIN_SERVER=()
    PIN_CLIENT=()
fi

# --- build -------------------------------------------------------------------
if [ -z "${LOAD_SKIP_BUILD:-}" ]; then
    log "building load-server (release)"
    cargo build --release --manifest-path "$HERE/Cargo.toml" --bin load-server >&2
    log "building the demos (release)"
    cargo build --release --manifest-path "$HERE/Cargo.toml" -p axum-demo -p actix-demo >&2
fi
KEYS_DIR="$(cd "$HERE/../../tests/keys" && pwd)"
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --manifest-path "$HERE/Cargo.toml" |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
BIN="$TARGET_DIR/release/load-server"
[ -x "$BIN" ] || die "no binary at $BIN"

# --- tokens ------------------------------------------------------------------
TOKEN_HS256="$("$BIN" mint hs256)"
TOKEN_RS256="$("$BIN" mint rs256)"
BARE_HS256="$("$BIN" mint hs256 bare)"
BARE_RS256="$("$BIN" mint rs256 bare)"

token_for() {
    case "$1" in
        *hs256*) printf '%s' "$TOKEN_HS256" ;;
        *) printf '%s' "$TOKEN_RS256" ;; # `none` gets the RS256 header too, unread
    esac
}
bare_token_for() {
    case "$1" in
        *hs256*) printf '%s' "$BARE_HS256" ;;
        *) printf '%s' "$BARE_RS256" ;;
    esac
}

# --- server lifecycle --------------------------------------------------------
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
trap cleanup EXIT INT TERM

free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s' "$port"
            return 0
        fi
    done
    die "no free port found"
}

status_of() { # url [token]
    if [ -n "${2:-}" ]; then
        curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "$1" || true
    else
        curl -s -o /dev/null -w '%{http_code}' "$1" || true
    fi
}

# start_server framework variant -> sets SERVER_PID and URL, waits for 200
start_server() {
    local framework="$1" variant="$2" port token
    port="$(free_port)"
    URL="http://127.0.0.1:$port/"
    SERVER_LOG="$(mktemp)"
    case "$variant" in
        demo-*)
            # The demo binary as built, configured like the other variants:
            # one algorithm, `iss` and `aud` required.
            local key
            case "$variant" in
                demo-hs256) key=(JWT_SECRET="$("$BIN" secret)") ;;
                *) key=(JWT_PUBLIC_KEY="$KEYS_DIR/rsa.pub.pem") ;;
            esac
            URL="http://127.0.0.1:$port/me"
            env "${key[@]}" JWT_ISSUER=https://bench.example JWT_AUDIENCE=bench \
                DEMO_ADDR="127.0.0.1:$port" TOKIO_WORKER_THREADS="$LOAD_WORKERS" \
                "${PIN_SERVER[@]}" "$TARGET_DIR/release/$framework-demo" >/dev/null 2>"$SERVER_LOG" &
            ;;
        *) "${PIN_SERVER[@]}" "$BIN" "$framework" "$variant" "127.0.0.1:$port" 2>"$SERVER_LOG" & ;;
    esac
    SERVER_PID=$!
    token="$(token_for "$variant")"
    for _ in $(seq 1 200); do
        if [ "$(status_of "$URL" "$token")" = 200 ]; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SERVER_LOG" >&2; die "$framework $variant exited"; }
        sleep 0.05
    done
    cat "$SERVER_LOG" >&2
    die "$framework $variant did not answer 200 within 10 s"
}

# check_server framework variant -> dies unless the token gets 200 with the
# right body and (auth variants) no token gets 401; prints what a token
# without iss/aud gets.
check_server() {
    local framework="$1" variant="$2" token body want status
    token="$(token_for "$variant")"
    body="$(curl -s -H "Authorization: Bearer $token" "$URL")"
    case "$variant" in
        none) [ "$body" = "hello world" ] || die "$framework $variant: body '$body'" ;;
        demo-*) [[ "$body" == *'"sub":"bench-user"'* ]] || die "$framework $variant: body '$body'" ;;
        *) [ "$body" = "hello bench-user" ] || die "$framework $variant: body '$body'" ;;
    esac
    if [ "$variant" = none ]; then
        printf '%s' "-"
        return 0
    fi
    status="$(status_of "$URL")"
    [ "$status" = 401 ] || die "$framework $variant: no token got $status, expected 401"
    status="$(status_of "$URL" "$(bare_token_for "$variant")")"
    printf '%s' "$status"
}

# --- wrk ---------------------------------------------------------------------
to_ms() { # 415.00us | 1.23ms | 1.02s -> milliseconds
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { print "nan" } }'
}

# measure variant -> prints "rps p99_ms", dies on errors or non-2xx answers
measure() {
    local variant="$1" token out rps p99
    token="$(token_for "$variant")"
    if [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
        "${PIN_CLIENT[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" \
            -H "Authorization: Bearer $token" "$URL" >/dev/null
    fi
    out="$("${PIN_CLIENT[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        -H "Authorization: Bearer $token" "$URL")"
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        log "$out"
        die "$variant: wrk saw non-2xx answers"
    fi
    if grep -q 'Socket errors' <<<"$out"; then
        log "$variant: $(grep 'Socket errors' <<<"$out")"
    fi
    rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
    if [ -z "$rps" ] || [ -z "$p99" ]; then
        log "$out"
        die "$variant: cannot parse wrk output"
    fi
    printf '%s %s' "$rps" "$(to_ms "$p99")"
}

# --- run -----------------------------------------------------------------------
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
log "commit $(git -C "$HERE" log --oneline -1 2>/dev/null || echo unknown)"
log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP), $ROUNDS round(s), $LOAD_WORKERS server worker(s)"

declare -A RPS_OF P99_OF BARE
declare -A VARIANTS_OF
for framework in $FRAMEWORKS; do
    list=""
    for variant in $("$BIN" variants "$framework") demo-hs256 demo-rs256; do
        if [ -z "$ONLY_VARIANTS" ] || [ "$variant" = none ] || [[ " $ONLY_VARIANTS " == *" $variant "* ]]; then
            list="$list $variant"
        fi
    done
    VARIANTS_OF[$framework]="$list"
done

for round in $(seq 1 "$ROUNDS"); do
    for framework in $FRAMEWORKS; do
        for variant in ${VARIANTS_OF[$framework]}; do
            key="$framework/$variant"
            start_server "$framework" "$variant"
            # (plain assignments, so that `set -e` stops on a failed check)
            bare="$(check_server "$framework" "$variant")"
            BARE[$key]="$bare"
            result="$(measure "$variant")"
            read -r rps p99 <<<"$result"
            cleanup
            log "round $round  $framework  $variant  rps=$rps  p99=${p99}ms  load=$(cut -d' ' -f1-3 /proc/loadavg)"
            RPS_OF[$key]="${RPS_OF[$key]:-} $rps"
            P99_OF[$key]="${P99_OF[$key]:-} $p99"
        done
    done
done

# --- report --------------------------------------------------------------------
printf 'Run started %s on commit %s; %s CPUs (%s); server on CPU %s, wrk on CPU %s.\n' \
    "$STARTED" \
    "$(git -C "$HERE" log --format='%h' -1 2>/dev/null || echo unknown)" \
    "$(nproc)" "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    "$SERVER_CPU" "$CLIENT_CPU"
# shellcheck disable=SC2016 # the backquotes are Markdown
printf '`wrk -t%s -c%s -d%s --latency` after a %s warm-up; %s round(s), medians; %s server worker thread(s).\n' \
    "$THREADS" "$CONNECTIONS" "$DURATION" "$WARMUP" "$ROUNDS" "$LOAD_WORKERS"
median() { # numbers... -> their median
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rounds_of() { # numbers... -> "1, 2, 3" rounded, in run order
    printf '%.0f\n' "$@" | paste -sd, - | sed 's/,/, /g'
}
for framework in $FRAMEWORKS; do
    # shellcheck disable=SC2086 # word splitting of the number lists is wanted
    base_rps="$(median ${RPS_OF[$framework/none]})"
    # shellcheck disable=SC2086
    base_p99="$(median ${P99_OF[$framework/none]})"
    printf '\n### %s\n\n' "$framework"
    printf '| variant | RPS (median) | p99 ms (median) | RPS / none | p99 / none | token without iss/aud | RPS of each round |\n'
    printf '|---|---:|---:|---:|---:|---|---|\n'
    for variant in ${VARIANTS_OF[$framework]}; do
        key="$framework/$variant"
        case "${BARE[$key]}" in
            -) bare="-" ;;
            401) bare="401 (refused)" ;;
            200) bare="**200 (accepted)**" ;;
            *) bare="${BARE[$key]}" ;;
        esac
        # shellcheck disable=SC2086
        awk -v v="$variant" -v r="$(median ${RPS_OF[$key]})" -v p="$(median ${P99_OF[$key]})" \
            -v br="$base_rps" -v bp="$base_p99" -v bare="$bare" -v all="$(rounds_of ${RPS_OF[$key]})" \
            'BEGIN { printf "| %s | %.0f | %.3f | %.2f | %.2f | %s | %s |\n", v, r, p, r / br, p / bp, bare, all }'
    done
done
