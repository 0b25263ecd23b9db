#!/usr/bin/env python3
"""Independent check of the tlog crate's Merkle trees and proofs.

Standard library only; shares no code with the crate. Reads JSON on stdin:

  {"trees": [{
      "leaves": [hex, ...],                  # leaf data
      "roots": [base64, ...],                # crate's root for sizes 0..=len(leaves)
      "inclusion": [{"index", "size", "leaf", "hashes": [base64], "valid": bool}],
      "consistency": [{"from", "to", "from_root_size", "to_root_size",
                       "hashes": [base64], "valid": bool}]}]}

For each tree it recomputes every root from the leaves (RFC 9162 section 2.1.1)
and compares; regenerates every valid proof with its own PATH / PROOF
(sections 2.1.3.1, 2.1.4.1) and compares; checks every proof with its own
transcription of the verification algorithms (sections 2.1.3.2, 2.1.4.2),
which must accept the valid ones and reject the ones marked invalid. The roots
used for verification are this script's own: "leaf" names the leaf whose data
is hashed, "from_root_size"/"to_root_size" the sizes whose roots are claimed.
Exits non-zero with a message on the first mismatch.
"""

import base64
import hashlib
import json
import sys


def fail(msg):
    print("independent.py: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def h_leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def h_node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_pow2_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    def __init__(self, leaves):
        self.lh = [h_leaf(x) for x in leaves]
        self.memo = {}

    def mth(self, lo, hi):
        """MTH(D[lo:hi])."""
        key = (lo, hi)
        if key not in self.memo:
            n = hi - lo
            if n == 0:
                v = hashlib.sha256(b"").digest()
            elif n == 1:
                v = self.lh[lo]
            else:
                k = largest_pow2_below(n)
                v = h_node(self.mth(lo, lo + k), self.mth(lo + k, hi))
            self.memo[key] = v
        return self.memo[key]

    def path(self, m, lo, hi):
        """PATH(m, D[lo:hi]), m relative to lo."""
        n = hi - lo
        if n <= 1:
            return []
        k = largest_pow2_below(n)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m, lo, hi, b):
        """SUBPROOF(m, D[lo:hi], b), m relative to lo."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = largest_pow2_below(n)
        if m <= k:
            return self.subproof(m, lo, lo + k, b) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]


def verify_inclusion(leaf_hash, leaf_index, tree_size, inclusion_path, root_hash):
    """RFC 9162 section 2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in inclusion_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h_node(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = h_node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(first, second, first_hash, second_hash, consistency_path):
    """RFC 9162 section 2.1.4.2, with the trivial cases it leaves out."""
    if first > second:
        return False
    if first == second:
        return not consistency_path and first_hash == second_hash
    if first == 0:
        return not consistency_path and first_hash == hashlib.sha256(b"").digest()
    if not consistency_path:
        return False
    path = list(consistency_path)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h_node(c, fr)
            sr = h_node(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h_node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def b64(s):
    return base64.b64decode(s, validate=True)


def main():
    doc = json.load(sys.stdin)
    counts = {"trees": 0, "roots": 0, "inclusion_ok": 0, "inclusion_bad": 0,
              "consistency_ok": 0, "consistency_bad": 0}
    for t in doc["trees"]:
        leaves = [bytes.fromhex(x) for x in t["leaves"]]
        n = len(leaves)
        tree = Tree(leaves)
        roots = [tree.mth(0, size) for size in range(n + 1)]
        if len(t["roots"]) != n + 1:
            fail("tree of %d leaves: %d roots given" % (n, len(t["roots"])))
        for size, given in enumerate(t["roots"]):
            if b64(given) != roots[size]:
                fail("tree of %d leaves: root of size %d differs" % (n, size))
            counts["roots"] += 1

        def root(size):
            return roots[size] if 0 <= size <= n else hashlib.sha256(b"none").digest()

        for p in t["inclusion"]:
            index, size, hashes = p["index"], p["size"], [b64(x) for x in p["hashes"]]
            leaf_hash = h_leaf(leaves[p["leaf"]])
            ok = verify_inclusion(leaf_hash, index, size, hashes, root(size))
            what = "inclusion %d/%d (tree %d)" % (index, size, n)
            if p["valid"]:
                if hashes != tree.path(index, 0, size):
                    fail(what + ": proof differs from PATH")
                if not ok:
                    fail(what + ": valid proof rejected")
                counts["inclusion_ok"] += 1
            else:
                if ok:
                    fail(what + ": tampered proof accepted")
                counts["inclusion_bad"] += 1

        for p in t["consistency"]:
            first, second, hashes = p["from"], p["to"], [b64(x) for x in p["hashes"]]
            ok = verify_consistency(first, second, root(p["from_root_size"]),
                                    root(p["to_root_size"]), hashes)
            what = "consistency %d->%d (tree %d)" % (first, second, n)
            if p["valid"]:
                want = [] if first in (0, second) else tree.subproof(first, 0, second, True)
                if hashes != want:
                    fail(what + ": proof differs from PROOF")
                if not ok:
                    fail(what + ": valid proof rejected")
                counts["consistency_ok"] += 1
            else:
                if ok:
                    fail(what + ": tampered proof accepted")
                counts["consistency_bad"] += 1
        counts["trees"] += 1
    print("independent.py: OK " + json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main()
