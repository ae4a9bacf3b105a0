#!/usr/bin/env python3
"""HTTP/1.1 forwarding proxy in front of one upstream (a registry), with injectable faults.

Every request (any method, body, headers including Authorization and Host) is forwarded to
--upstream unchanged, over one keep-alive upstream connection per client connection. The
client's Host header is passed through, so the registry's Location headers point back at the
proxy. Hop-by-hop headers are not forwarded; chunked bodies are re-chunked.

Faults are armed through a control endpoint on the same port (never forwarded):

  POST /__fault  mode=MODE&count=N&path=REGEX   arm MODE for the next N requests whose request
                                                target (path?query) matches REGEX (re.search)
  POST /__fault  mode=clear                     disarm everything
  GET  /__fault                                 {"fired": N, "armed": [...]}

Modes:
  reset         forward; send the headers and half the body, then close with a TCP RST
  500           answer 500 with a JSON errors body, upstream not contacted
  429           answer 429 with Retry-After: 1, upstream not contacted
  truncate      forward; full Content-Length header, half the body, then a normal close (FIN)
  ignore-range  forward without Range/If-Range: upstream answers 200 with the whole blob
  bad-range     forward with the Range shifted one byte later (bytes=A-B -> bytes=A+1-B+1; no
                Range -> bytes=1-): the answer's Content-Range and body are off by one byte
  corrupt       forward; flip one byte in the middle of the body (headers untouched)
  stall         forward; send status and headers, then nothing for 60 s (or until shutdown)
  delay         forward after sleeping 1 s (slow server, not an error)
  slow          forward the body at SLOW_RATE bytes/s (2 MiB/s: a slow link, not an error);
                a shutdown sends the rest at full speed

Log (--log): one line per proxied request: METHOD TARGET RANGE STATUS BYTES_SENT FAULT
("-" for no Range / no fault; BYTES_SENT counts body bytes written to the client).

Stdlib only.
"""

import argparse
import http.client
import json
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = {"reset", "500", "429", "truncate", "ignore-range", "bad-range", "corrupt", "stall", "delay",
         "slow"}
# Hop-by-hop headers (RFC 9110 7.6.1) are per connection: never forwarded either way
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
              "upgrade", "proxy-authorization", "proxy-authenticate"}
# Expect: 100-continue is answered by http.server itself before the body is read
NOT_FORWARDED = HOP_BY_HOP | {"expect"}
CHUNK = 64 * 1024
STALL_SECONDS = 60
SLOW_RATE = 2 << 20
STOP = threading.Event()  # set at shutdown: releases stalled connections


class Faults:
    """The armed faults, shared by all connections."""

    def __init__(self):
        self.lock = threading.Lock()
        self.armed = []  # [{"mode", "count", "path", "re"}], first match wins
        self.fired = 0

    def arm(self, mode, count, pattern):
        with self.lock:
            self.armed.append({"mode": mode, "count": count, "path": pattern, "re": re.compile(pattern)})

    def clear(self):
        with self.lock:
            self.armed.clear()

    def take(self, target):
        """The fault for this request (consumed), or None."""
        with self.lock:
            for f in self.armed:
                if f["re"].search(target):
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.armed.remove(f)
                    self.fired += 1
                    return f["mode"]
        return None

    def state(self):
        with self.lock:
            return {"fired": self.fired,
                    "armed": [{"mode": f["mode"], "count": f["count"], "path": f["path"]} for f in self.armed]}


def shift_range(value):
    """bytes=A-B -> bytes=A+1-B+1, bytes=A- -> bytes=A+1-, bytes=-N -> bytes=-(N+1); first range only."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*(,.*)?", value or "")
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return "bytes=1-"
    a, b = m.group(1), m.group(2)
    if a == "":
        return f"bytes=-{int(b) + 1}"
    return f"bytes={int(a) + 1}-" + (str(int(b) + 1) if b else "")


class ClientGone(Exception):
    """The client connection broke while we were writing to it."""


class Server(ThreadingHTTPServer):
    # the listen backlog is taken at construction: set on an instance it stays at 5, and a burst
    # of new connections (64 readers) then waits for SYN retransmits, seconds each
    request_queue_size = 128
    daemon_threads = True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rig-fault-proxy"
    upstream_addr = None  # (host, port), set in main
    faults: Faults = None
    log_file = None
    log_lock = threading.Lock()

    def setup(self):
        super().setup()
        self.upstream = None  # http.client.HTTPConnection, kept alive across requests

    def finish(self):
        self.drop_upstream()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, fmt, *args):  # the request log is ours (see log_request_line)
        pass

    def log_request_line(self, status, sent, fault):
        if not self.log_file:
            return
        rng = self.headers.get("Range") or "-"
        with self.log_lock:
            self.log_file.write(f"{self.command} {self.path} {rng.replace(' ', '')} {status} {sent} {fault or '-'}\n")
            self.log_file.flush()

    # --- every method goes through proxy() -------------------------------------------------
    def do_GET(self):
        if self.path.startswith("/__fault"):
            self.control()
        else:
            self.do_proxy()

    do_POST = do_GET

    # --- the control endpoint ---------------------------------------------------------------
    def control(self):
        if self.command == "POST":
            form = urllib.parse.parse_qs(self.read_body_fully().decode("utf-8", "replace"), keep_blank_values=True)
            mode = form.get("mode", [""])[0]
            try:
                count = int(form.get("count", ["1"])[0] or 1)
                pattern = form.get("path", [""])[0] or "/blobs/"
                if mode == "clear":
                    self.faults.clear()
                elif mode in MODES and count > 0:
                    self.faults.arm(mode, count, pattern)
                else:
                    raise ValueError(f"unknown mode {mode!r} or bad count")
            except (ValueError, re.error) as e:
                self.send_json(400, {"error": str(e)})
                return
        self.send_json(200, self.faults.state())

    def send_json(self, status, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return len(body) if self.command != "HEAD" else 0

    # --- request bodies ---------------------------------------------------------------------
    def body_chunks(self):
        """Yields the request body as it arrives (Content-Length or chunked)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return
                left = size
                while left:
                    data = self.rfile.read(min(left, CHUNK))
                    if not data:
                        raise ClientGone()
                    left -= len(data)
                    yield data
                self.rfile.readline()  # CRLF after the chunk
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                data = self.rfile.read(min(left, CHUNK))
                if not data:
                    raise ClientGone()
                left -= len(data)
                yield data

    def has_body(self):
        return ("chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
                or int(self.headers.get("Content-Length") or 0) > 0)

    def read_body_fully(self):
        return b"".join(self.body_chunks())

    # --- upstream ---------------------------------------------------------------------------
    def drop_upstream(self):
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None

    def send_upstream(self, headers):
        """Sends the request upstream, streaming its body; returns the HTTPResponse."""
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        for attempt in (1, 2):
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(*self.upstream_addr, timeout=300)
            try:
                self.upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    self.upstream.putheader(k, v)
                if chunked:
                    self.upstream.putheader("Transfer-Encoding", "chunked")
                self.upstream.endheaders()
                for data in self.body_chunks():
                    self.upstream.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                if chunked:
                    self.upstream.send(b"0\r\n\r\n")
                return self.upstream.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # an idle keep-alive connection the upstream closed: retry once if nothing of
                # the request body was consumed
                self.drop_upstream()
                if attempt == 2 or self.has_body():
                    raise
        raise AssertionError("unreachable")

    # --- the proxy --------------------------------------------------------------------------
    def write(self, data):
        try:
            self.wfile.write(data)
        except OSError as e:
            raise ClientGone() from e

    def do_proxy(self):
        fault = self.faults.take(self.path)
        status, sent = 0, 0
        self.answered = False  # status line sent: an error can only close the connection now
        try:
            status, sent = self.forward(fault)
        except ClientGone:
            self.close_connection = True
            self.drop_upstream()
        except (OSError, http.client.HTTPException) as e:
            self.drop_upstream()
            self.close_connection = True
            if self.answered:
                self.log_request_line(status, sent, fault)
                return
            try:
                status = 502
                sent = self.send_json(502, {"errors": [{"code": "UNKNOWN", "message": f"fault proxy: upstream: {e}"}]})
            except OSError:
                pass
        self.log_request_line(status, sent, fault)

    do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_proxy

    def forward(self, fault):
        if fault in ("500", "429"):
            for _ in self.body_chunks():  # drain, so the connection stays usable
                pass
            extra = [("Retry-After", "1")] if fault == "429" else []
            code = "TOOMANYREQUESTS" if fault == "429" else "UNKNOWN"
            return int(fault), self.send_json(int(fault), {"errors": [{"code": code, "message": f"rig fault: {fault}"}]}, extra)
        if fault == "delay":
            time.sleep(1)

        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in NOT_FORWARDED and not (chunked and k.lower() == "content-length")]
        if fault == "ignore-range":
            headers = [(k, v) for k, v in headers if k.lower() not in ("range", "if-range")]
        elif fault == "bad-range":
            shifted = shift_range(self.headers.get("Range"))
            headers = [(k, v) for k, v in headers if k.lower() not in ("range", "if-range")] + [("Range", shifted)]

        resp = self.send_upstream(headers)
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        length = resp.length  # None when chunked or delimited by close
        body = None
        if not no_body and (length is None and fault in ("reset", "truncate", "corrupt")):
            body = resp.read()  # need the size to cut it in half
            length = len(body)
        if fault == "corrupt" and not no_body:
            body = bytearray(body if body is not None else resp.read())
            if body:
                body[len(body) // 2] ^= 0xFF
            body = bytes(body)

        # status line and headers, as upstream sent them (minus hop-by-hop); a body without a
        # Content-Length goes out chunked, or with the length we found by reading it
        self.answered = True
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        rechunk = not no_body and length is None
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        elif resp.getheader("Content-Length") is not None:
            self.send_header("Content-Length", resp.getheader("Content-Length"))
        elif not no_body:
            self.send_header("Content-Length", str(length))
        try:
            self.end_headers()
        except OSError as e:
            raise ClientGone() from e

        if fault == "stall":
            STOP.wait(STALL_SECONDS)
            self.close_connection = True
            self.drop_upstream()
            return resp.status, 0

        limit = None
        if fault in ("reset", "truncate") and not no_body:
            limit = length // 2
        sent = 0
        if no_body:
            resp.read()
        elif body is not None:
            part = body if limit is None else body[:limit]
            self.write(part)
            sent = len(part)
        else:
            start = time.monotonic()
            while limit is None or sent < limit:
                data = resp.read(CHUNK if limit is None else min(CHUNK, limit - sent))
                if not data:
                    break
                self.write(b"%x\r\n%s\r\n" % (len(data), data) if rechunk else data)
                sent += len(data)
                if fault == "slow":  # sleep until sent / SLOW_RATE seconds have passed
                    STOP.wait(max(0.0, start + sent / SLOW_RATE - time.monotonic()))
            if rechunk:
                self.write(b"0\r\n\r\n")

        if fault in ("reset", "truncate"):
            # the rest of the upstream body is unread: that connection is useless now
            self.drop_upstream()
            self.close_connection = True
            if fault == "reset":
                self.hard_reset()
        elif resp.will_close:
            self.drop_upstream()
        return resp.status, sent

    def hard_reset(self):
        """Close the client socket with SO_LINGER 0: the kernel sends RST, not FIN."""
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # makefile() holds a reference that would delay the real close
            self.connection.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the registry")
    ap.add_argument("--log", help="one line per proxied request")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    uhost, _, uport = args.upstream.rpartition(":")
    Handler.upstream_addr = (uhost, int(uport))
    Handler.faults = Faults()
    Handler.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
    server = Server((host, int(port)), Handler)
    try:
        server.serve_forever()
    finally:
        STOP.set()


if __name__ == "__main__":
    sys.exit(main())
