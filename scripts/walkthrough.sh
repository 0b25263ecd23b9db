#!/usr/bin/env bash
# A producer → wholesaler → retailer → sale, with curl and openssl only.
#
#   scripts/walkthrough.sh [BASE_URL]
#
# Starts its own registry (`tracemark serve` on a fresh data dir) unless BASE_URL is given
# together with TRACEMARK_ADMIN_TOKEN. It uses the binary the README's first command built
# (target/release/tracemark, under $CARGO_TARGET_DIR if set), else the debug one;
# TRACEMARK_BIN chooses another.
# Every step prints the request (`> POST …` with its body, on stderr) and the answer.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'if [ -n "${server_pid:-}" ]; then kill "$server_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

if [ $# -ge 1 ]; then
  base=$1
  admin=${TRACEMARK_ADMIN_TOKEN:?set TRACEMARK_ADMIN_TOKEN for an existing registry}
else
  bin=${TRACEMARK_BIN:-}
  if [ -z "$bin" ]; then
    for b in "${CARGO_TARGET_DIR:-target}"/release/tracemark "${CARGO_TARGET_DIR:-target}"/debug/tracemark; do
      if [ -x "$b" ]; then bin=$b; break; fi
    done
  fi
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "walkthrough: no tracemark binary${bin:+ at $bin}: run 'cargo build --release' (the README's first command builds it), or set TRACEMARK_BIN" >&2
    exit 1
  fi
  echo "walkthrough: using $bin (TRACEMARK_BIN chooses another)" >&2
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base=http://127.0.0.1:$port
  admin=walkthrough-admin-token
  TRACEMARK_ADMIN_TOKEN=$admin "$bin" serve --data "$work/data" --listen 127.0.0.1:$port >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
fi

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }
# An answer, indented for people (anything that is not JSON as it came).
pretty() { python3 -c "
import json, sys
t = sys.stdin.read()
try: print(json.dumps(json.loads(t), indent=2, ensure_ascii=False))
except ValueError: print(t)"; }
# The request, on stderr (stdout carries answers that later steps read).
request() { printf '\n> %s\n' "$1" >&2; [ -n "${2:-}" ] && printf '%s\n' "$2" | pretty >&2 || true; }
# A step's heading: bold at a terminal, plain in a pipe or a file.
if [ -t 1 ]; then say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }; else say() { printf '\n== %s\n' "$*"; }; fi

# A participant: an Ed25519 key pair made by openssl, registered by the operator, signed in.
participant() { # name "public name" tin role region [GS1 company prefix]
  local name=$1 public=$2 tin=$3 role=$4 region=$5 prefixes="[]"
  [ -n "${6:-}" ] && prefixes="[\"$6\"]"
  printf '%s' "$tin" >"$work/$name.tin"
  openssl genpkey -algorithm ed25519 -out "$work/$name.pem" 2>/dev/null
  local pub body
  pub=$(openssl pkey -in "$work/$name.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
  body="{\"tin\":\"$tin\",\"name\":\"$public\",\"roles\":[\"$role\"],\"public_key\":\"$pub\",\"region\":\"$region\",\"gs1_prefixes\":$prefixes}"
  request "POST /api/v1/participants   (the operator, admin token)" "$body"
  curl -sf -X POST "$base/api/v1/participants" -H "authorization: Bearer $admin" \
    -H 'content-type: application/json' -d "$body" | pretty
  local ch data id sig
  request "GET /api/v1/auth/challenge?tin=$tin   (anyone)"
  ch=$(curl -sf "$base/api/v1/auth/challenge?tin=$tin")
  echo "$ch" | pretty
  data=$(echo "$ch" | json '["data"]'); id=$(echo "$ch" | json '["challenge_id"]')
  printf '%s' "$data" >"$work/challenge"
  # The token is the participant's: only its first characters are shown.
  sig=$(openssl pkeyutl -sign -inkey "$work/$name.pem" -rawin -in "$work/challenge" | base64 -w0)
  request "POST /api/v1/auth/token   (the challenge's data signed with the key)" "{\"challenge_id\":\"$id\",\"signature\":\"$sig\"}"
  curl -sf -X POST "$base/api/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"challenge_id\":\"$id\",\"signature\":\"$sig\"}" | json '["token"]' >"$work/$name.token"
  echo "token: $(head -c 12 "$work/$name.token")…"
  echo "$public ($role, TIN $tin) signed in"
}

# POST a signed request (RFC 9421 HTTP Message Signature + RFC 9530 Content-Digest): the
# signature covers the method, path, query and the body's digest, with a fresh `created`
# time and nonce, so a captured request cannot be replayed, re-targeted or re-bodied.
signed() { # name path body
  printf '%s' "$3" >"$work/body"
  local digest params sig path=${2%%\?*} query=""
  [ "$path" != "$2" ] && query=${2#*\?}
  digest="sha-256=:$(openssl dgst -sha256 -binary "$work/body" | base64 -w0):"
  params="(\"@method\" \"@path\" \"@query\" \"content-digest\");created=$(date +%s);nonce=\"$(openssl rand -hex 16)\";keyid=\"$(cat "$work/$1.tin")\";alg=\"ed25519\""
  printf '"@method": POST\n"@path": %s\n"@query": ?%s\n"content-digest": %s\n"@signature-params": %s' \
    "$path" "$query" "$digest" "$params" >"$work/base"
  sig=$(openssl pkeyutl -sign -inkey "$work/$1.pem" -rawin -in "$work/base" | base64 -w0)
  request "POST $2   (as $1, signed: Content-Digest, Signature-Input, Signature)" "$3"
  curl -s -X POST "$base$2" -H "authorization: Bearer $(cat "$work/$1.token")" \
    -H 'content-type: application/json' -H "content-digest: $digest" \
    -H "signature-input: sig1=$params" -H "signature: sig1=:$sig:" --data-binary @"$work/body" | pretty
}
get() { request "GET $2   (as $1)"; curl -s "$base$2" -H "authorization: Bearer $(cat "$work/$1.token")" | pretty; }
# A GET signed as a POST is, over the empty body: the reads that return crypto tails (an
# order's codes, a document's body) need it — a bearer token alone never reveals a tail.
signed_get() { # name path
  local digest params sig path=${2%%\?*} query=""
  [ "$path" != "$2" ] && query=${2#*\?}
  digest="sha-256=:$(printf '' | openssl dgst -sha256 -binary | base64 -w0):"
  params="(\"@method\" \"@path\" \"@query\" \"content-digest\");created=$(date +%s);nonce=\"$(openssl rand -hex 16)\";keyid=\"$(cat "$work/$1.tin")\";alg=\"ed25519\""
  printf '"@method": GET\n"@path": %s\n"@query": ?%s\n"content-digest": %s\n"@signature-params": %s' \
    "$path" "$query" "$digest" "$params" >"$work/base"
  sig=$(openssl pkeyutl -sign -inkey "$work/$1.pem" -rawin -in "$work/base" | base64 -w0)
  request "GET $2   (as $1, signed: Content-Digest of the empty body, Signature-Input, Signature)"
  curl -s "$base$2" -H "authorization: Bearer $(cat "$work/$1.token")" -H "content-digest: $digest" \
    -H "signature-input: sig1=$params" -H "signature: sig1=:$sig:" | pretty
}
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }

say "Participants"
participant producer "Moscow Shoe Factory" 7701000001 producer RU-MOW 4650117
participant wholesaler "Podmoskovye Footwear Wholesale" 7701000002 wholesaler RU-MOS
participant retailer "Nevsky Shoes" 7701000003 retailer RU-SPE

say "The producer registers a product card (GTIN 04650117240163, shoes)"
signed producer /api/v1/products '{"gtin":"04650117240163","name":"Running shoes, size 42","product_group":"shoes","brand":"Demo"}'; echo

say "It orders 4 codes with MAC tails and fetches them (a signed GET: they carry the tails)"
order=$(signed producer /api/v1/orders '{"gtin":"04650117240163","quantity":4,"serial_type":"operator","tail":"mac"}')
echo "$order"; oid=$(echo "$order" | json '["order_id"]')
request "GET /api/v1/orders/$oid   (as producer, until its status is ready)"
for _ in $(seq 100); do
  status=$(curl -s "$base/api/v1/orders/$oid" -H "authorization: Bearer $(cat "$work/producer.token")")
  [ "$(echo "$status" | json '["status"]')" = ready ] && break; sleep 0.1
done
echo "$status" | pretty
signed_get producer "/api/v1/orders/$oid/codes?limit=10" >"$work/codes.json"; cat "$work/codes.json"; echo
codes=$(python3 -c "import json; print(json.dumps([c.split('\x1d')[0] for c in json.load(open('$work/codes.json'))['codes']]))")
first_full=$(python3 -c "import json; print(json.dumps(json.load(open('$work/codes.json'))['codes'][0]))")
# The same code as a GS1 Digital Link (what a phone camera reads from a QR code).
first_dl=$(python3 -c "
import json, urllib.parse as u
c = json.load(open('$work/codes.json'))['codes'][0].split('\x1d')
q = lambda s: u.quote(s, safe='')
print('/01/' + c[0][2:16] + '/21/' + q(c[0][18:]) + '?91=' + q(c[1][2:]) + '&92=' + q(c[2][2:]))")

say "apply (printed and applied), introduce (in circulation)"
signed producer /api/v1/documents "{\"id\":\"$(uuid)\",\"type\":\"apply\",\"codes\":$codes}"; echo
signed producer /api/v1/documents "{\"id\":\"$(uuid)\",\"type\":\"introduce\",\"codes\":$codes,\"production_date\":\"2026-11-01\"}"; echo

say "Pack them into a box (SSCC 00146501172400000016) and ship it to the wholesaler"
signed producer /api/v1/documents "{\"id\":\"$(uuid)\",\"type\":\"aggregate\",\"parent\":\"00146501172400000016\",\"children\":$codes}"; echo
ship=$(uuid)
signed producer /api/v1/documents "{\"id\":\"$ship\",\"type\":\"ship\",\"receiver\":\"7701000002\",\"codes\":[\"00146501172400000016\"]}"; echo

say "The wholesaler accepts, and ships the box on to the retailer, who accepts"
signed wholesaler /api/v1/documents "{\"id\":\"$(uuid)\",\"type\":\"accept\",\"shipment\":\"$ship\"}"; echo
ship2=$(uuid)
signed wholesaler /api/v1/documents "{\"id\":\"$ship2\",\"type\":\"ship\",\"receiver\":\"7701000003\",\"codes\":[\"00146501172400000016\"]}"; echo
signed retailer /api/v1/documents "{\"id\":\"$(uuid)\",\"type\":\"accept\",\"shipment\":\"$ship2\"}"; echo

say "At the till: may the first pair be sold? (the till sends the full code, tail included)"
request "POST /api/v1/pos/check   (as retailer)" "{\"codes\":[$first_full]}"
check=$(curl -s -X POST "$base/api/v1/pos/check" -H "authorization: Bearer $(cat "$work/retailer.token")" \
  -H 'content-type: application/json' -d "{\"codes\":[$first_full]}" | pretty)
echo "$check"; rid=$(echo "$check" | json '["request_id"]')
first=$(python3 -c "import json; print(json.dumps(json.loads('$codes')[0]))")

say "Sold: the fiscal receipt becomes a sell document"
signed retailer /api/v1/documents "{\"id\":\"$(uuid)\",\"type\":\"sell\",\"codes\":[$first],\"receipt\":{\"fiscal_drive\":\"9999078900012345\",\"number\":17,\"at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"store\":\"Nevsky 1\"},\"check_ids\":[\"$rid\"]}"; echo

say "Selling it again is refused (and recorded for the regulators)"
signed retailer /api/v1/documents "{\"id\":\"$(uuid)\",\"type\":\"sell\",\"codes\":[$first],\"receipt\":{\"fiscal_drive\":\"9999078900012345\",\"number\":18,\"at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"store\":\"Nevsky 1\"}}"; echo

say "A consumer scans the code: public verification, no sign-in (Digital Link resolver, JSON)"
request "GET $first_dl   (anyone; Accept: application/json)"
curl -s -H 'accept: application/json' "$base$first_dl" | pretty

say "The retailer's view of the code: status, owner, history with document ids"
get retailer "/api/v1/codes/$(python3 -c "import json; print(json.loads('$first'))")"; echo

say "Inventory of the retailer"
get retailer "/api/v1/inventory?gtin=04650117240163"; echo
