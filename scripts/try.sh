#!/usr/bin/env bash
# Walk the main flow with curl against a running server with the simulators
# (SIMULATOR=on, or the production-like setup: see scripts/prodlike.sh):
# login, face verification, insured status, quote, order, payment in the
# WeChat Pay simulator, posting, vouchers.
#
#   go run ./cmd/server &          # in one terminal (or without &)
#   scripts/try.sh                 # waits for the server, then walks the flow
#
# Every run uses a new user, a new simulated person and a new
# Idempotency-Key, so it can run again and again against the same server,
# database and Redis. It stops at the first step that does not answer as
# expected, naming the step and printing the reply. Needs only bash and curl.
#
# Environment: BASE (default http://127.0.0.1:8080), SIM_BASE (where /sim/...
# is served: the server itself with SIMULATOR=on, cmd/wxsim otherwise; default
# BASE), REGION (default beijing), WAIT (seconds to wait for /healthz, 180).
set -euo pipefail
BASE="${BASE:-http://127.0.0.1:8080}"; BASE="${BASE%/}"
SIM_BASE="${SIM_BASE:-$BASE}"; SIM_BASE="${SIM_BASE%/}"
REGION="${REGION:-beijing}"
WAIT="${WAIT:-180}"
command -v curl >/dev/null || { echo "try.sh: needs curl" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipay-try.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
step=0
TOKEN=""
BODY=""

title() { step=$((step + 1)); printf '\n[%d] %s\n' "$step" "$*"; }
fail() {
  printf '\nTRY FAILED at step %d: %s\n' "$step" "$1" >&2
  [ -n "${2:-}" ] && printf '  reply: %s\n' "$2" >&2
  exit 1
}

# call METHOD URL WANT_STATUS [JSON_BODY] [extra curl args...]: sets BODY.
call() {
  local method=$1 url=$2 want=$3 data=${4:-}
  shift 3; [ $# -gt 0 ] && shift
  local args=(-sS -o "$tmp/body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' --max-time 20)
  [ -n "$TOKEN" ] && args+=(-H "Authorization: Bearer $TOKEN")
  [ -n "$data" ] && args+=(--data-binary "$data")
  local code
  code=$(curl "${args[@]}" "$@" "$url" 2>"$tmp/err") || fail "$method $url: $(cat "$tmp/err")"
  BODY=$(cat "$tmp/body")
  [ "$code" = "$want" ] || fail "$method ${url#"$BASE"} answered $code, want $want" "$BODY"
}

# field NAME [JSON]: the first string (or number/bool) value of "NAME" in JSON (default BODY).
field() {
  local json=${2:-$BODY} v
  v=$(printf '%s' "$json" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n1)
  [ -n "$v" ] || v=$(printf '%s' "$json" | sed -n "s/.*\"$1\":\\([0-9a-z.-]*\\).*/\\1/p" | head -n1)
  printf '%s' "$v"
}
need() { [ -n "$2" ] || fail "the reply has no $1" "$BODY"; }

# residentID 17DIGITS: append the GB 11643-1999 check digit.
resident_id() {
  local d=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) sum=0 i checks=10X98765432
  for i in $(seq 0 16); do sum=$((sum + ${d:i:1} * w[i])); done
  printf '%s%s' "$d" "${checks:$((sum % 11)):1}"
}

title "waiting for $BASE/healthz (the first build takes about two minutes)"
for i in $(seq 1 "$WAIT"); do
  if curl -fsS --max-time 2 "$BASE/healthz" >/dev/null 2>&1; then break; fi
  [ "$i" = "$WAIT" ] && fail "no answer from $BASE/healthz after ${WAIT}s: is the server running (go run ./cmd/server)?"
  sleep 1
done
echo "    up"

# The month to pay, as the service sees it: Asia/Shanghai (UTC+8, no DST;
# written as a POSIX zone so it works without tzdata).
MONTH=$(TZ=CST-8 date +%Y-%m)
run="$(date +%s)$$$RANDOM"

for attempt in 1 2 3 4 5 6 7 8 9 10; do
  TOKEN=""
  title "login (wx.login code → code2session)"
  call POST "$BASE/api/v1/auth/login" 200 "{\"code\":\"try-$run-$attempt\"}"
  TOKEN=$(field token); need token "$TOKEN"
  echo "    user $(field id), session until $(field expires_at)"

  title "face verification 2.0 (the simulator plays wx.requestFacialVerify)"
  seq3=$(printf '%03d' $(( (RANDOM + attempt) % 1000 )))
  ID_NUMBER=$(resident_id "110105$(( 1960 + RANDOM % 40 ))0$(( 1 + RANDOM % 9 ))1$(( RANDOM % 9 ))$seq3")
  call POST "$BASE/api/v1/identity/face/start" 200 "{\"name\":\"张三\",\"id_type\":\"resident_id\",\"id_number\":\"$ID_NUMBER\"}"
  VID=$(field verify_id); need verify_id "$VID"
  call POST "$BASE/api/v1/identity/face/result" 200 "{\"verify_id\":\"$VID\"}"
  call GET "$BASE/api/v1/me" 200
  [ "$(field verified)" = true ] || fail "/me is not verified after face verification" "$BODY"
  echo "    verified (shown masked): $BODY"

  title "insured status in $REGION"
  call GET "$BASE/api/v1/insured?region=$REGION&person=self" 200
  # The platform simulator derives each person from the ID number; about one
  # in five never joined medical insurance, which Beijing bundles with
  # pension. Take another person then.
  if printf '%s' "$BODY" | grep -q '"insurance":"medical","status":"active"' &&
     printf '%s' "$BODY" | grep -q '"insurance":"pension","status":"active"'; then
    break
  fi
  [ "$attempt" = 10 ] && fail "no simulated person insured for pension and medical in 10 tries" "$BODY"
  echo "    this simulated person is not insured for both pension and medical here; trying another"
done
echo "    current month $(field current_month), due $(field current_due_fen) fen"

title "quote: $MONTH (Asia/Shanghai), pension + medical on a base of 8000.00 元"
call POST "$BASE/api/v1/quotes" 201 "{\"region\":\"$REGION\",\"person\":\"self\",\"start_month\":\"$MONTH\",\"months\":1,\"insurances\":[{\"type\":\"pension\",\"base_fen\":800000},{\"type\":\"medical\",\"base_fen\":800000}]}"
QUOTE=$(field id); need id "$QUOTE"
echo "    quote $QUOTE, total $(field total_fen) fen, payable $(field payable_fen) fen"

title "order with a unique Idempotency-Key (WeChat Pay prepay)"
KEY="try-$run"
call POST "$BASE/api/v1/orders" 201 "{\"quote_id\":\"$QUOTE\"}" -H "Idempotency-Key: $KEY"
ORDER=$(field order_no); need order_no "$ORDER"
PAY_PARAMS=$(printf '%s' "$BODY" | sed -n 's/.*"pay_params":\({[^}]*}\).*/\1/p')
need pay_params "$PAY_PARAMS"
echo "    order $ORDER, $(field amount_fen) fen"
call POST "$BASE/api/v1/orders" 201 "{\"quote_id\":\"$QUOTE\"}" -H "Idempotency-Key: $KEY"
[ "$(field order_no)" = "$ORDER" ] || fail "the same Idempotency-Key gave another order" "$BODY"
echo "    the same key replays the same order"

title "pay in the simulator (plays wx.requestPayment; WeChat Pay then notifies the server)"
call POST "$SIM_BASE/sim/pay/request-payment" 200 "$PAY_PARAMS"

title "wait for the verified notification and posting to the provincial platform"
status=""
for i in $(seq 1 60); do
  call GET "$BASE/api/v1/orders/$ORDER" 200
  status=$(field status)
  [ "$status" = posted ] && break
  case "$status" in refunding|refunded|closed) fail "order $ORDER ended $status" "$BODY";; esac
  sleep 1
done
[ "$status" = posted ] || fail "order $ORDER is still $status after 60 s, want posted" "$BODY"
echo "    order $ORDER is posted, transaction $(field transaction_id)"

title "vouchers"
call GET "$BASE/api/v1/orders/$ORDER/vouchers" 200
n=$(printf '%s' "$BODY" | grep -o '"verify_code"' | wc -l)
[ "$n" = 3 ] || fail "got $n vouchers, want 3" "$BODY"
CODE=$(field verify_code)
call GET "$BASE/api/v1/vouchers/verify?code=$CODE" 200
[ "$(field status)" = valid ] || fail "the voucher does not verify" "$BODY"
echo "    3 vouchers; the first verifies: $(field title)"

printf '\nTRY OK: login, face verification, quote, order, payment, posting and vouchers all answered as documented.\n'
