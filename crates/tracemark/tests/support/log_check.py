#!/usr/bin/env python3
"""Checks what a running registry's transparency log served, with an implementation that
shares no code with the server: the RFC 9162 tree hash and proof verification of
crates/tlog/tests/independent.py (Python standard library only).

Reads JSON on stdin:
  {"leaves": [base64 leaf bytes, as GET /api/v1/log/entries/{i} served them],
   "checkpoints": [{"size", "root": base64}],          # from the signed checkpoints
   "inclusion": [{"index", "size", "hashes": [base64]}],
   "consistency": [{"from", "to", "hashes": [base64]}]}
Every checkpoint root must equal the tree hash recomputed here from the leaves; every
proof must verify against those roots; a proof with one flipped byte must not.
"""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tlog", "tests"))
import independent as rfc  # noqa: E402


def main():
    d = json.load(sys.stdin)
    leaves = [base64.b64decode(x) for x in d["leaves"]]
    tree = rfc.Tree(leaves)
    roots = {}
    for c in d["checkpoints"]:
        n = c["size"]
        mine = tree.mth(0, n)
        if base64.b64decode(c["root"]) != mine:
            rfc.fail(f"checkpoint root of size {n} is not the tree hash of the served leaves")
        roots[n] = mine
    for p in d["inclusion"]:
        i, n = p["index"], p["size"]
        hashes = [base64.b64decode(h) for h in p["hashes"]]
        root = roots.get(n) or tree.mth(0, n)
        if not rfc.verify_inclusion(rfc.h_leaf(leaves[i]), i, n, hashes, root):
            rfc.fail(f"inclusion proof of {i} in {n} does not verify")
        if hashes:
            bad = list(hashes)
            bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
            if rfc.verify_inclusion(rfc.h_leaf(leaves[i]), i, n, bad, root):
                rfc.fail(f"a tampered inclusion proof of {i} in {n} verified")
    for p in d["consistency"]:
        a, b = p["from"], p["to"]
        hashes = [base64.b64decode(h) for h in p["hashes"]]
        ra, rb = tree.mth(0, a), tree.mth(0, b)
        if not rfc.verify_consistency(a, b, ra, rb, hashes):
            rfc.fail(f"consistency proof {a} -> {b} does not verify")
        if hashes:
            bad = list(hashes)
            bad[-1] = bytes([bad[-1][0] ^ 1]) + bad[-1][1:]
            if rfc.verify_consistency(a, b, ra, rb, bad):
                rfc.fail(f"a tampered consistency proof {a} -> {b} verified")
    print(f"log_check.py: {len(leaves)} leaves, {len(d['checkpoints'])} checkpoints, "
          f"{len(d['inclusion'])} inclusion and {len(d['consistency'])} consistency proofs verified")


if __name__ == "__main__":
    main()
