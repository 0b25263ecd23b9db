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
  bytes sent, for requests with a participant's bearer token. Where the OpenAPI document
  declares the signature headers (`Content-Digest`, `Signature-Input`, `Signature`) of an
  operation, schemathesis generates them (with values it made up) and the signer replaces
  exactly those it sent with real ones: a header schemathesis left out on purpose (its
  missing-header cases) stays out, and the request must be refused. Where the document
  declares none, a request that changes state (POST, PUT, PATCH, DELETE) or reads crypto
  tails (`GET /api/v1/documents/{id}`, `GET /api/v1/orders/{id}/codes`) is signed all the
  same, as API.md requires. `Content-Digest` is the SHA-256 of the body (of the empty string
  when none); `Signature-Input` covers "@method" "@path" "@query" "content-digest" with
  `created`, a 24-character random `nonce`, `keyid` = the participant's TIN and
  `alg="ed25519"`; `Signature` is Ed25519 over the RFC 9421 §2.5 signature base.

* The operator's changes to a participant (`/api/v1/participants/{tin}/…`: suspend, keys,
  prefixes, reinstate) aimed at one of the signing participants (schemathesis learns their
  TINs from answers such as `GET /api/v1/auth/me`) go to the spare participant instead: a
  suspended producer or a new key would turn every later signed request into a 401.

* `POST /epcis/capture`: half of the generated bodies that fit the document's outline are
  replaced by a valid EPCIS 2.0 document (see `flatmap_body`), so captures get past GS1's
  JSON Schema and their jobs (`GET /epcis/capture/{id}`) are reached.

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

import jsonschema_rs
import requests
import requests.adapters
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as hst

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


def _declared_signatures() -> list:
    """(method, path regex) of the operations whose parameters name `Signature-Input`."""
    doc = requests.get(f"{BASE}/openapi.json", timeout=30).json()
    out = []
    for template, item in doc["paths"].items():
        rx = re.compile(
            "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"
        )
        for method, op in item.items():
            names = {p.get("name", "").lower() for p in op.get("parameters", [])}
            if "signature-input" in names:
                out.append((method.upper(), rx))
    return out


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


_check_host(BASE)
DECLARED = _declared_signatures()


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
    declared = any(m == method and rx.match(path) for m, rx in DECLARED)
    if declared:
        keep = present  # schemathesis decides which headers go; the signer makes them real
    elif method in STATE_CHANGING or any(p.match(path) for p in TAIL_READS):
        keep = list(SIG_HEADERS)
    else:
        return
    if not keep:
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
    for h in SIG_HEADERS:
        if h in keep:
            prepared.headers[h] = values[h]


OWN_TINS = set(TINS.values())
SPARE_TIN = STATE["spare_tin"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if (
        case.method.upper() in STATE_CHANGING
        and case.operation.path.startswith("/api/v1/participants/{tin}/")
        and (case.path_parameters or {}).get("tin") in OWN_TINS
    ):
        case.path_parameters["tin"] = SPARE_TIN


_send = requests.adapters.HTTPAdapter.send


def _signed_send(self, request, *args, **kwargs):
    _check_host(request.url)
    sign(request)
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _signed_send


# EPCIS captures past validation. The outline of `POST /epcis/capture`'s body (CaptureDocument)
# does not repeat GS1's EPCIS 2.0 JSON Schema, so generated bodies are all refused with a 400
# and the capture itself (a 202, its job, `GET /epcis/capture/{id}`) is never exercised. Half
# of the bodies that fit the outline are replaced by a valid EPCISDocument: 1 to 3 ObjectEvents
# (OBSERVE) on SGTINs under the foreign company prefix 0614141, a bizStep among `inspecting`,
# `storing` and a URI of one's own, sometimes a disposition. A body that does not fit the
# outline (or an XML string) is kept: it is a negative case, and must stay one.
_CAPTURE_OUTLINE = jsonschema_rs.validator_for(
    {
        "$ref": "#/components/schemas/CaptureDocument",
        "components": requests.get(f"{BASE}/openapi.json", timeout=30).json()["components"],
    },
    validate_formats=True,
)
_OBJECT_EVENT = hst.fixed_dictionaries(
    {
        "type": hst.just("ObjectEvent"),
        "eventTime": hst.integers(0, 86_399).map(
            lambda s: f"2026-12-07T{s // 3600:02}:{s // 60 % 60:02}:{s % 60:02}.000+03:00"
        ),
        "eventTimeZoneOffset": hst.just("+03:00"),
        "epcList": hst.lists(
            hst.integers(1, 10**12).map(lambda n: f"urn:epc:id:sgtin:0614141.107346.{n}"),
            min_size=1, max_size=3, unique=True,
        ),
        "action": hst.just("OBSERVE"),
        "bizStep": hst.sampled_from(["inspecting", "storing", "urn:example:step:x"]),
    },
    optional={"disposition": hst.sampled_from(["active", "in_progress", "urn:example:disp:y"])},
)
_EPCIS_DOCUMENT = hst.lists(_OBJECT_EVENT, min_size=1, max_size=3).map(
    lambda events: {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-12-07T10:00:00.000Z",
        "epcisBody": {"eventList": events},
    }
)


@schemathesis.hook.apply_to(method="POST", path="/epcis/capture")
def flatmap_body(context, body):
    if not isinstance(body, dict) or not _CAPTURE_OUTLINE.is_valid(body):
        return hst.just(body)
    return hst.one_of(hst.just(body), _EPCIS_DOCUMENT)
