"""A software WebAuthn authenticator for the passkey tests (engineer
login2): it makes what a browser sends the server (clientDataJSON,
attestation object of format "none", authenticator data, signatures) with
python3-cryptography keys of each COSE algorithm the server takes (ES256,
EdDSA, RS256), and lets a test break any part of it (origin, rp id,
challenge, counter, flags, CBOR)."""
import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

UP, UV, AT = 0x01, 0x04, 0x40


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor(v):
    """canonical CBOR of ints, bytes, str, lists and dicts (CTAP2's subset)"""
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x)
                                           for k, x in v.items())
    raise TypeError(type(v))


class SoftKey:
    """one credential of a software authenticator"""

    def __init__(self, alg=-7):
        self.alg = alg
        self.cred_id = os.urandom(32)
        self.counter = 0
        self.user_handle = None
        if alg == -7:
            self.key = ec.generate_private_key(ec.SECP256R1())
        elif alg == -8:
            self.key = ed25519.Ed25519PrivateKey.generate()
        else:
            self.key = rsa.generate_private_key(public_exponent=65537,
                                                key_size=2048)

    @property
    def id(self):
        return b64u(self.cred_id)

    def cose(self):
        pub = self.key.public_key()
        if self.alg == -7:
            n = pub.public_numbers()
            return {1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"),
                    -3: n.y.to_bytes(32, "big")}
        if self.alg == -8:
            from cryptography.hazmat.primitives import serialization
            raw = pub.public_bytes(serialization.Encoding.Raw,
                                   serialization.PublicFormat.Raw)
            return {1: 1, 3: -8, -1: 6, -2: raw}
        n = pub.public_numbers()
        return {1: 3, 3: -257, -1: n.n.to_bytes(256, "big"),
                -2: n.e.to_bytes(3, "big")}

    def sign(self, data):
        if self.alg == -7:
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == -8:
            return self.key.sign(data)
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def register(self, options, origin, rp_id=None, attestation=None,
                 fmt="none"):
        """the credential a browser sends after navigator.credentials.create"""
        rp_id = rp_id or options["rp"]["id"]
        self.user_handle = unb64u(options["user"]["id"])
        cd = json.dumps({"type": "webauthn.create",
                         "challenge": options["challenge"],
                         "origin": origin, "crossOrigin": False}).encode()
        ad = (hashlib.sha256(rp_id.encode()).digest() +
              bytes([UP | UV | AT]) + self.counter.to_bytes(4, "big") +
              bytes(16) + len(self.cred_id).to_bytes(2, "big") +
              self.cred_id + cbor(self.cose()))
        att = attestation if attestation is not None else cbor(
            {"fmt": fmt, "attStmt": {}, "authData": ad})
        return {"id": self.id, "rawId": self.id, "type": "public-key",
                "response": {"clientDataJSON": b64u(cd),
                             "attestationObject": b64u(att)}}

    def assertion(self, options, origin, rp_id=None, flags=UP | UV,
                  counter=None, challenge=None, type_="webauthn.get"):
        """the credential a browser sends after navigator.credentials.get"""
        rp_id = rp_id or options["rpId"]
        if counter is None:
            self.counter += 1
            counter = self.counter
        cd = json.dumps({"type": type_,
                         "challenge": challenge or options["challenge"],
                         "origin": origin, "crossOrigin": False}).encode()
        ad = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) +
              counter.to_bytes(4, "big"))
        sig = self.sign(ad + hashlib.sha256(cd).digest())
        r = {"clientDataJSON": b64u(cd), "authenticatorData": b64u(ad),
             "signature": b64u(sig)}
        if self.user_handle is not None:
            r["userHandle"] = b64u(self.user_handle)
        return {"id": self.id, "rawId": self.id, "type": "public-key",
                "response": r}
