#!/usr/bin/python3
"""A small CRI (runtime.v1) client for the tests, in place of crictl (not packaged in Debian 12),
over real gRPC (Debian's python3-grpcio). Messages are written in protobuf text format and
encoded / decoded by `protoc-c --encode/--decode` with proto/k8s/cri/v1/api.proto, as
snapclient.py's callers do for the snapshots API.

  criclient.py --address SOCK [--timeout S] COMMAND ARGS...
    version                    runtime name, version and CRI API version
    pull REF                   ImageService/PullImage; prints the image ref (id) answered
    images                     one line per image: ID TAGS DIGESTS SIZE (lists joined by ",")
    inspecti REF               ImageStatus; prints the image id, exit 1 if the image is absent
    rmi REF                    RemoveImage
    runp NAME [--log-dir DIR]  a host-network pod with an empty hostname; prints the pod id
    create POD IMAGE [--name N] -- CMD...
                               a container running CMD (the image's entrypoint and cmd when
                               none); its log goes to <pod log dir>/<name>.log; prints its id
    run POD IMAGE [--name N] -- CMD...
                               create, then start, in one process (as kubelet does: no second
                               interpreter start between the two calls); prints its id
    start CID | stop CID | rm CID
    status CID                 prints STATE EXIT_CODE (CREATED, RUNNING, EXITED or UNKNOWN)
    wait CID [--timeout S]     polls ContainerStatus until EXITED; prints the exit code
    logs CID                   the container's output, from the CRI log file it wrote
    stopp POD | rmp POD        StopPodSandbox, RemovePodSandbox

CreateContainer wants the pod's config again: runp keeps it under DIR/criclient/pods/ where DIR
is the socket's directory (the test's containerd dir), and the pods' logs under
DIR/criclient/logs/NAME unless --log-dir is given. A gRPC error prints "CODE: details" on stderr
and exits 3; usage errors exit 2."""
import argparse
import os
import re
import subprocess
import sys
import time
import uuid

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO = "k8s/cri/v1/api.proto"
RUNTIME = "/runtime.v1.RuntimeService/"
IMAGES = "/runtime.v1.ImageService/"
PULL_TIMEOUT = 1800


class Client:
    def __init__(self, args):
        self.address = args.address
        self.timeout = args.timeout
        self.protoc = args.protoc
        self.state = os.path.join(os.path.dirname(os.path.abspath(args.address)), "criclient")
        self.channel = grpc.insecure_channel("unix:" + os.path.abspath(args.address))

    def protoc_run(self, mode, msg, data):
        cmd = [self.protoc, f"--{mode}=runtime.v1.{msg}", "-I" + PROTO_DIR, "-I/usr/include", PROTO]
        p = subprocess.run(cmd, input=data, capture_output=True, check=False)
        if p.returncode != 0:
            raise SystemExit(f"criclient: protoc --{mode} {msg}: {p.stderr.decode().strip()}")
        return p.stdout

    def call(self, service, method, request_text, timeout=None):
        req = self.protoc_run("encode", method + "Request", request_text.encode())
        resp = self.channel.unary_unary(service + method)(req, timeout=timeout or self.timeout)
        return self.protoc_run("decode", method + "Response", resp).decode()


def q(s):
    """A protobuf text-format string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def field(text, name, default=""):
    """The top-level `name: value` of a text-format message (strings unquoted)."""
    indent = min((len(x) - len(x.lstrip()) for x in text.splitlines() if x.strip()), default=0)
    m = re.search(rf"^ {{{indent}}}{name}: (.*)$", text, re.M)
    if not m:
        return default
    v = m.group(1)
    if v.startswith('"'):
        return v[1:-1].encode().decode("unicode_escape")
    return v


def blocks(text, name):
    """The bodies of the top-level `name { ... }` blocks."""
    out, depth, cur = [], 0, None
    for line in text.splitlines():
        s = line.strip()
        if depth == 0 and s == name + " {":
            cur, depth = [], 1
            continue
        if cur is None:
            continue
        depth += s.endswith("{") - (s == "}")
        if depth == 0:
            out.append("\n".join(cur))
            cur = None
        else:
            cur.append(line)
    return out


def cmd_version(c, _a):
    r = c.call(RUNTIME, "Version", 'version: "v1"')
    print(field(r, "runtime_name"), field(r, "runtime_version"), field(r, "runtime_api_version"))


def cmd_pull(c, a):
    r = c.call(IMAGES, "PullImage", f"image {{ image: {q(a.ref)} }}", PULL_TIMEOUT)
    print(field(r, "image_ref"))


def cmd_images(c, _a):
    r = c.call(IMAGES, "ListImages", "")
    for img in blocks(r, "images"):
        tags = re.findall(r'^\s*repo_tags: "(.*)"$', img, re.M)
        digests = re.findall(r'^\s*repo_digests: "(.*)"$', img, re.M)
        print(field(img, "id"), ",".join(tags) or "-", ",".join(digests) or "-",
              field(img, "size", "0"))


def cmd_inspecti(c, a):
    r = c.call(IMAGES, "ImageStatus", f"image {{ image: {q(a.ref)} }}")
    img = blocks(r, "image")
    if not img:
        sys.stderr.write(f"criclient: no image {a.ref}\n")
        return 1
    print(field(img[0], "id"))
    return 0


def cmd_rmi(c, a):
    c.call(IMAGES, "RemoveImage", f"image {{ image: {q(a.ref)} }}")


def pod_config(name, log_dir):
    return (f"metadata {{ name: {q(name)} uid: {q(uuid.uuid4().hex)} namespace: \"default\" }}\n"
            f"hostname: \"\"\nlog_directory: {q(log_dir)}\n"
            "linux { security_context { namespace_options { network: NODE pid: CONTAINER "
            "ipc: POD } } }\n")


def cmd_runp(c, a):
    log_dir = os.path.abspath(a.log_dir or os.path.join(c.state, "logs", a.name))
    os.makedirs(log_dir, exist_ok=True)
    cfg = pod_config(a.name, log_dir)
    r = c.call(RUNTIME, "RunPodSandbox", f"config {{ {cfg} }}", max(c.timeout, 300))
    pod = field(r, "pod_sandbox_id")
    os.makedirs(os.path.join(c.state, "pods"), exist_ok=True)
    with open(os.path.join(c.state, "pods", pod + ".txtpb"), "w", encoding="utf-8") as f:
        f.write(cfg)
    print(pod)


def create_container(c, a):
    try:
        with open(os.path.join(c.state, "pods", a.pod + ".txtpb"), encoding="utf-8") as f:
            cfg = f.read()
    except FileNotFoundError:
        raise SystemExit(f"criclient: pod {a.pod} was not started by criclient.py runp") from None
    name = a.name or "c" + uuid.uuid4().hex[:8]
    cmd = "".join(f" command: {q(x)}" for x in a.cmd)
    req = (f"pod_sandbox_id: {q(a.pod)}\n"
           f"config {{ metadata {{ name: {q(name)} }} image {{ image: {q(a.image)} }}{cmd}"
           f" log_path: {q(name + '.log')} linux {{ }} }}\n"
           f"sandbox_config {{ {cfg} }}\n")
    r = c.call(RUNTIME, "CreateContainer", req, max(c.timeout, 300))
    return field(r, "container_id")


def cmd_create(c, a):
    print(create_container(c, a))


def cmd_run(c, a):
    cid = create_container(c, a)
    c.call(RUNTIME, "StartContainer", f"container_id: {q(cid)}")
    print(cid)


def container_status(c, cid):
    r = c.call(RUNTIME, "ContainerStatus", f"container_id: {q(cid)}")
    st = blocks(r, "status")
    return st[0] if st else ""


def cmd_status(c, a):
    st = container_status(c, a.cid)
    print(field(st, "state", "CONTAINER_CREATED").removeprefix("CONTAINER_"),
          field(st, "exit_code", "0"))


def cmd_wait(c, a):
    deadline = time.monotonic() + a.wait_timeout
    while True:
        st = container_status(c, a.cid)
        if field(st, "state") == "CONTAINER_EXITED":
            print(field(st, "exit_code", "0"))
            return 0
        if time.monotonic() > deadline:
            sys.stderr.write(f"criclient: {a.cid} still {field(st, 'state', 'CONTAINER_CREATED')}"
                             f" after {a.wait_timeout} s\n")
            return 1
        time.sleep(0.2)


def cmd_logs(c, a):
    path = field(container_status(c, a.cid), "log_path")
    with open(path, "rb") as f:
        for line in f:
            # CRI log format: TIMESTAMP STREAM TAG MESSAGE, TAG F (full line) or P (partial)
            parts = line.rstrip(b"\n").split(b" ", 3)
            if len(parts) < 4:
                continue
            sys.stdout.buffer.write(parts[3] + (b"\n" if parts[2] == b"F" else b""))


def simple(method, key, service=RUNTIME, extra=""):
    def run(c, a):
        c.call(service, method, f"{key}: {q(getattr(a, 'id'))}{extra}")
    return run


def parser():
    p = argparse.ArgumentParser(prog="criclient.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", required=True, help="the CRI server's unix socket")
    p.add_argument("--timeout", type=float, default=120, help="seconds per call (pull: 1800)")
    p.add_argument("--protoc", default="protoc-c", help="protoc or protoc-c, for text format")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("version").set_defaults(run=cmd_version)
    for name, run in (("pull", cmd_pull), ("inspecti", cmd_inspecti), ("rmi", cmd_rmi)):
        sub.add_parser(name).add_argument("ref")
        sub.choices[name].set_defaults(run=run)
    sub.add_parser("images").set_defaults(run=cmd_images)
    s = sub.add_parser("runp")
    s.add_argument("name")
    s.add_argument("--log-dir")
    s.set_defaults(run=cmd_runp)
    for name, run in (("create", cmd_create), ("run", cmd_run)):
        s = sub.add_parser(name)
        s.add_argument("pod")
        s.add_argument("image")
        s.add_argument("--name")
        s.set_defaults(run=run)
    s = sub.add_parser("wait")
    s.add_argument("cid")
    s.add_argument("--timeout", dest="wait_timeout", type=float, default=120)
    s.set_defaults(run=cmd_wait)
    for name, run in (("status", cmd_status), ("logs", cmd_logs)):
        sub.add_parser(name).add_argument("cid")
        sub.choices[name].set_defaults(run=run)
    for name, run in (("start", simple("StartContainer", "container_id")),
                      ("stop", simple("StopContainer", "container_id", extra=" timeout: 10")),
                      ("rm", simple("RemoveContainer", "container_id")),
                      ("stopp", simple("StopPodSandbox", "pod_sandbox_id")),
                      ("rmp", simple("RemovePodSandbox", "pod_sandbox_id"))):
        sub.add_parser(name).add_argument("id")
        sub.choices[name].set_defaults(run=run)
    return p


def main():
    argv = sys.argv[1:]
    # argparse does not hand "--" on to a subcommand: CMD is split off here
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser().parse_args(argv[:cut])
    args.cmd = argv[cut + 1:]
    c = Client(args)
    try:
        return args.run(c, args) or 0
    except grpc.RpcError as e:
        sys.stderr.write(f"{e.code().name}: {e.details()}\n")
        return 3
    finally:
        c.channel.close()


if __name__ == "__main__":
    sys.exit(main())
