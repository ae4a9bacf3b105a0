#!/usr/bin/env python3
"""Bearer-token issuer for a CNCF distribution 2.8 registry running with `auth: token`.

The test rig (tests/integration/lib/rig.sh) starts this next to a docker-registry whose config
names this server as `realm`, and whose `rootcertbundle` is the certificate given by --cert.

  GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...]   (Docker token protocol)
  POST /token  grant_type=password&username=U&password=P&service=S&scope=...   (OAuth2 form)

Answers {"token", "access_token", "expires_in", "issued_at"} with a JWT that distribution
accepts: header {"alg": "ES256"|"RS256", "x5c": [base64 DER of --cert]} (the registry checks the
chain against its rootcertbundle), claims iss, sub, aud (= --service), exp, nbf, iat, jti and
access [{type, name, actions}] granting exactly the requested actions.

With --credentials USER:PASS the issuer requires that Basic login (401 otherwise); without it
every request is granted anonymously. Each token issued is logged as one line "USER SCOPE..."
(USER is "anonymous" without credentials, SCOPE "-" when none was asked).

Expiry: distribution accepts a token until 60 s after its `exp` claim (a fixed leeway). So that
the registry really stops accepting a token --ttl seconds after it was issued, the `exp` claim is
ceil(iat) + ttl - 60 (it may lie before iat for short TTLs; that is fine, the registry checks only the
leeway-adjusted exp). `expires_in` is --ttl.

Stdlib plus python3-cryptography only.
"""

import argparse
import base64
import binascii
import datetime
import json
import math
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# distribution's registry/auth/token.Leeway
REGISTRY_LEEWAY = 60


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """Signs JWS compact tokens with the key of a self-signed certificate."""

    def __init__(self, key_path, cert_path):
        with open(key_path, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            if self.key.curve.name != "secp256r1":
                sys.exit("token_issuer: EC keys must be P-256 (ES256)")
            self.alg = "ES256"
        elif isinstance(self.key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        else:
            sys.exit("token_issuer: key must be EC P-256 or RSA")

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": self.alg, "x5c": self.x5c}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        if self.alg == "ES256":
            # JWS wants the raw 32-byte r || s, not the DER that cryptography returns
            r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)


def parse_scope(scope: str):
    """'repository:a/b:pull,push' -> {type, name, actions}; None when malformed.
    The type may carry a class ('repository(plugin)'); names never contain ':' but be lenient."""
    typ, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not typ or not name:
        return None
    acts = [a for a in actions.split(",") if a]
    return {"type": typ, "name": name, "actions": acts}


class Issuer:
    def __init__(self, args):
        self.signer = Signer(args.key, args.cert)
        self.issuer = args.issuer
        self.service = args.service
        self.ttl = args.ttl
        self.credentials = args.credentials  # "user:pass" or None
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None
        self.lock = threading.Lock()

    def check_login(self, auth_header, form):
        """Returns (ok, user). Accepts Basic auth, or username/password form fields (OAuth2)."""
        user = pw = None
        if auth_header and auth_header.lower().startswith("basic "):
            try:
                user, _, pw = base64.b64decode(auth_header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False, None
        elif form.get("username"):
            user, pw = form["username"][0], form.get("password", [""])[0]
        if self.credentials is None:
            return True, user or "anonymous"
        if user is None:
            return False, None
        return f"{user}:{pw}" == self.credentials, user

    def issue(self, user, scopes):
        now_f = time.time()
        now = int(now_f)
        access = []
        for s in scopes:
            # space-separated scopes inside one parameter are allowed by the OAuth2 spec
            for one in s.split():
                parsed = parse_scope(one)
                if parsed and (parsed["type"].startswith("repository") or parsed["type"] == "registry"):
                    access.append(parsed)
        claims = {
            "iss": self.issuer,
            "sub": "" if user == "anonymous" else user,
            "aud": self.service,
            # rounded up: the registry accepts the token for at least ttl seconds, at most ttl + 1
            "exp": math.ceil(now_f) + self.ttl - REGISTRY_LEEWAY,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        token = self.signer.sign(claims)
        if self.log:
            with self.lock:
                self.log.write(f"{user} {' '.join(scopes) or '-'}\n")
                self.log.flush()
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        return {"token": token, "access_token": token, "expires_in": self.ttl,
                "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%SZ")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rig-token-issuer"
    issuer: Issuer = None  # set in main

    def log_message(self, fmt, *args):  # keep stderr for real errors
        pass

    def reply(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_token(self, form):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "only /token here"}]})
            return
        service = form.get("service", [self.issuer.service])[0]
        if service != self.issuer.service:
            self.reply(400, {"errors": [{"code": "DENIED", "message": f"unknown service {service!r}"}]})
            return
        ok, user = self.issuer.check_login(self.headers.get("Authorization"), form)
        if not ok:
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad or missing credentials"}]},
                       [("WWW-Authenticate", 'Basic realm="rig-issuer"')])
            return
        self.reply(200, self.issuer.issue(user, form.get("scope", [])))

    def do_GET(self):
        self.handle_token(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query))

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        form = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        for k, v in urllib.parse.parse_qs(body).items():
            form.setdefault(k, []).extend(v)
        self.handle_token(form)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--key", required=True, help="PEM private key (EC P-256 or RSA)")
    ap.add_argument("--cert", required=True, help="PEM self-signed cert of that key (the registry's rootcertbundle)")
    ap.add_argument("--issuer", default="rig-issuer")
    ap.add_argument("--service", default="rig-registry")
    ap.add_argument("--ttl", type=int, default=300, help="token lifetime in seconds")
    ap.add_argument("--credentials", help="USER:PASS required as Basic auth (default: anonymous grants)")
    ap.add_argument("--log", help="append one line per token issued: USER SCOPE...")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    Handler.issuer = Issuer(args)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
