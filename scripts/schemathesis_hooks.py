"""Schemathesis hooks for Tracemark: sign-in and RFC 9421 request signatures.

Loaded by scripts/schemathesis (SCHEMATHESIS_HOOKS=schemathesis_hooks). It reads the
participants the script registered from the JSON file named by TRACEMARK_ST_STATE:

    {"base": "http://127.0.0.1:PORT", "admin_token": "...",
     "participants": {"producer": {"tin": "...", "secret_key": "<base64 32 bytes>"}, ...}}

and then, for every request schemathesis makes:

* Authorization. An operation whose `security` names only `admin` gets the operator's admin
  token; one that names `bearer` gets the bearer token of the participant whose role fits
  it (a regulator for blocks, alerts, risk scores, complaints and flows; a retailer for the
  till check; the producer otherwise), signed in through `GET /api/v1/auth/challenge` and
  `POST /api/v1/auth/token` exactly as docs/api-guide.md says; public operations get none.
  Schemathesis removes or spoils the header itself for its `ignored_auth` probes.

* Signature. Signing happens on the wire (requests' `HTTPAdapter.send`), over the exact
  bytes sent: a request with a participant's bearer token is signed when it changes state
  (POST, PUT, PATCH, DELETE), when it is a read that returns crypto tails
  (`GET /api/v1/documents/{id}`, `GET /api/v1/orders/{id}/codes`), or when it carries any of
  the signature headers the OpenAPI document declares. `Content-Digest` is the SHA-256 of
  the body (of the empty string when none); `Signature-Input` covers "@method" "@path"
  "@query" "content-digest" with `created`, a 24-character random `nonce`, `keyid` = the
  participant's TIN and `alg="ed25519"`; `Signature` is Ed25519 over the RFC 9421 §2.5
  signature base. When schemathesis sends some of the three headers but deliberately not
  all (its missing-header scenario), only those it sent are set: the request must still be
  refused.

* Only 127.0.0.1: a request to any other host is refused before it leaves the machine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

import requests
import requests.adapters
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

STATE = json.load(open(os.environ["TRACEMARK_ST_STATE"], encoding="utf-8"))
BASE = STATE["base"]
ALLOWED_HOSTS = {"127.0.0.1"}
SIG_HEADERS = ("Content-Digest", "Signature-Input", "Signature")
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Reads that return crypto tails: signed (API.md, "Identity and signatures").
TAIL_READS = [
    re.compile(r"^/api/v1/documents/[^/]+$"),
    re.compile(r"^/api/v1/orders/[^/]+/codes$"),
]

KEYS = {
    role: Ed25519PrivateKey.from_private_bytes(base64.b64decode(p["secret_key"]))
    for role, p in STATE["participants"].items()
}
TINS = {role: p["tin"] for role, p in STATE["participants"].items()}

# token -> role, filled at sign-in: the wire signer signs only for tokens it issued.
_TOKENS: dict[str, str] = {}
_LOCK = threading.Lock()

# Paths served to regulators and to tills (the rest goes to the producer).
REGULATOR_PATHS = re.compile(
    r"^/api/v1/(blocks|alerts|risk/|complaints|analytics/flows|log/entries)"
)
TILL_PATHS = re.compile(r"^/api/v1/pos/")


def _check_host(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ALLOWED_HOSTS:
        raise RuntimeError(f"schemathesis hooks: refusing a request to {host!r} ({url})")


def sign_in(role: str) -> str:
    """Signs `role` in: challenge, Ed25519 over its data, bearer token."""
    tin = TINS[role]
    url = f"{BASE}/api/v1/auth/challenge?tin={tin}"
    _check_host(url)
    for attempt in range(30):
        r = requests.get(url, timeout=30)
        if r.status_code == 429:
            time.sleep(1 + attempt * 0.2)
            continue
        break
    r.raise_for_status()
    ch = r.json()
    sig = KEYS[role].sign(ch["data"].encode("utf-8"))
    body = json.dumps(
        {"challenge_id": ch["challenge_id"], "signature": base64.b64encode(sig).decode()}
    )
    for attempt in range(30):
        t = requests.post(
            f"{BASE}/api/v1/auth/token",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        if t.status_code == 429:
            time.sleep(1 + attempt * 0.2)
            continue
        break
    t.raise_for_status()
    token = t.json()["token"]
    with _LOCK:
        _TOKENS[token] = role
    return token


def role_for(path: str) -> str:
    if REGULATOR_PATHS.match(path):
        return "regulator"
    if TILL_PATHS.match(path):
        return "retailer"
    return "producer"


def _security(operation) -> list:
    """The operation's `security` list (the document's default when it has none)."""
    raw = operation.definition.raw
    sec = raw.get("security")
    if sec is None:
        sec = operation.schema.raw_schema.get("security", [])
    return sec or []


@schemathesis.auth(retry_on=[])
class TracemarkAuth:
    """Bearer tokens: the admin token or a participant's, chosen per operation."""

    def get(self, case, context):
        return {role: sign_in(role) for role in TINS}

    def set(self, case, data, context):
        schemes = set()
        for requirement in _security(context.operation):
            schemes.update(requirement.keys())
        if not schemes:
            return  # public
        if "bearer" in schemes:
            token = data[role_for(context.operation.path)]
        else:
            token = STATE["admin_token"]
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {token}"


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def sign(prepared: requests.PreparedRequest) -> None:
    """Signs `prepared` in place (RFC 9421 + RFC 9530) when it should be (see above)."""
    auth = prepared.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return
    with _LOCK:
        role = _TOKENS.get(auth[len("Bearer "):])
    if role is None:
        return  # the admin token, or a token schemathesis made up: nothing to sign with
    url = urlsplit(prepared.url)
    path = url.path or "/"
    method = prepared.method.upper()
    present = [h for h in SIG_HEADERS if h in prepared.headers]
    wanted = (
        method in STATE_CHANGING
        or any(p.match(path) for p in TAIL_READS)
        or present
    )
    if not wanted:
        return
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)):
        raise RuntimeError("schemathesis hooks: cannot sign a streamed body")
    digest = content_digest(bytes(body))
    params = (
        '("@method" "@path" "@query" "content-digest")'
        f';created={int(time.time())};nonce="{secrets.token_urlsafe(18)}"'
        f';keyid="{TINS[role]}";alg="ed25519"'
    )
    base = "\n".join(
        [
            f'"@method": {method}',
            f'"@path": {path}',
            f'"@query": ?{url.query}',
            f'"content-digest": {digest}',
            f'"@signature-params": {params}',
        ]
    )
    signature = base64.b64encode(KEYS[role].sign(base.encode("utf-8"))).decode()
    values = {
        "Content-Digest": digest,
        "Signature-Input": f"sig1={params}",
        "Signature": f"sig1=:{signature}:",
    }
    # All three, unless schemathesis left some out on purpose (a missing-header case).
    keep = present if present and len(present) < len(SIG_HEADERS) else SIG_HEADERS
    for h in SIG_HEADERS:
        if h in keep:
            prepared.headers[h] = values[h]


_send = requests.adapters.HTTPAdapter.send


def _signed_send(self, request, *args, **kwargs):
    _check_host(request.url)
    sign(request)
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _signed_send
