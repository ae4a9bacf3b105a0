#!/usr/bin/python3
"""A containerd-like client of the snapshots service, over real gRPC (Debian's python3-grpcio).

  snapclient.py SOCKET METHOD [NAMESPACE]   request bytes on stdin, response bytes on stdout
      (List: the stream's messages concatenated, which protobuf reads as one merged message);
      on a gRPC error: "CODE: details" on stderr, exit 3.
  snapclient.py SOCKET prepare-many PREFIX N THREADS
      N Prepare calls (keys PREFIX0..PREFIX<N-1>, no parent) from THREADS threads at once.

Messages are encoded by the caller (protoc-c --encode); this only moves bytes, as containerd's
proxy plugin does, with the namespace in the containerd-namespace metadata."""
import sys
import threading

import grpc

SERVICE = "/containerd.services.snapshots.v1.Snapshots/"


def call(channel, method, request, namespace):
    md = (("containerd-namespace", namespace),)
    if method == "List":
        return b"".join(channel.unary_stream(SERVICE + method)(request, metadata=md, timeout=60))
    return channel.unary_unary(SERVICE + method)(request, metadata=md, timeout=60)


def prepare_request(key):
    k = key.encode()
    assert len(k) < 128
    return b"\x12" + bytes([len(k)]) + k  # PrepareSnapshotRequest.key = 2


def prepare_many(channel, prefix, n, threads):
    errors = []

    def work(t):
        for i in range(t, n, threads):
            try:
                call(channel, "Prepare", prepare_request(f"{prefix}{i}"), "default")
            except grpc.RpcError as e:  # noqa: PERF203
                errors.append(f"{prefix}{i}: {e.code().name}: {e.details()}")

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.stderr.write("\n".join(errors[:5]) + "\n")
        return 3
    return 0


def main():
    sock, method = sys.argv[1], sys.argv[2]
    with grpc.insecure_channel("unix:" + sock) as channel:
        try:
            if method == "prepare-many":
                return prepare_many(channel, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
            namespace = sys.argv[3] if len(sys.argv) > 3 else "default"
            sys.stdout.buffer.write(call(channel, method, sys.stdin.buffer.read(), namespace))
        except grpc.RpcError as e:
            sys.stderr.write(f"{e.code().name}: {e.details()}\n")
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
