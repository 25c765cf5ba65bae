"""Finds (or makes) the Python modules protoc generates from frep's proto/.

The generated code is never committed. It lives in a directory laid out as
protoc writes it: ROOT/frep/rpc/v1/envelope_pb2.py, ROOT/frep/v1/*_pb2.py.
The modules import each other as `frep.v1.config_pb2`, so ROOT/frep is
added to this package's __path__: `frep.v1` and `frep.rpc.v1` then resolve
to the generated files, next to the hand-written client.

ROOT is, in this order:
  1. $FREP_PROTO_PY (the build tree's clients/python/gen, set by ctest);
     generated there if it is empty and protoc is on PATH;
  2. frep/_gen inside the installed package (written by `pip install`,
     see setup.py);
  3. generated on first import with protoc from $FREP_PROTO_DIR or the
     source tree's proto/ into $XDG_CACHE_HOME/frep (~/.cache/frep).
"""

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_MARKER = os.path.join("frep", "rpc", "v1", "envelope_pb2.py")


def _has_modules(root):
    return bool(root) and os.path.isfile(os.path.join(root, _MARKER))


def _proto_dir():
    candidates = [os.environ.get("FREP_PROTO_DIR"),
                  os.path.join(_PKG_DIR, os.pardir, os.pardir, os.pardir, "proto")]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "frep", "rpc", "v1", "envelope.proto")):
            return os.path.abspath(c)
    return None


def proto_files(proto_dir):
    """The .proto files of the contract, relative to proto_dir, sorted."""
    out = []
    for base, _dirs, files in os.walk(os.path.join(proto_dir, "frep")):
        for f in files:
            if f.endswith(".proto"):
                out.append(os.path.relpath(os.path.join(base, f), proto_dir))
    return sorted(out)


def generate(proto_dir, out_dir, protoc="protoc"):
    """Runs protoc --python_out=out_dir on every file of the contract.

    Writes into a temporary directory first and moves the result in place,
    so a concurrent importer never sees half the modules."""
    files = proto_files(proto_dir)
    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".frep-gen-", dir=parent)
    try:
        # --pyi_out: typing stubs beside the modules (protoc >= 3.20).
        subprocess.run([protoc, "-I" + proto_dir, "--python_out=" + tmp, "--pyi_out=" + tmp]
                       + files,
                       check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.makedirs(out_dir, exist_ok=True)
        for top in os.listdir(tmp):
            dst = os.path.join(out_dir, top)
            if os.path.exists(dst):
                shutil.rmtree(dst)
            os.replace(os.path.join(tmp, top), dst)
    except subprocess.CalledProcessError as e:
        raise ImportError("frep: protoc failed: %s" % e.stderr.decode("utf-8", "replace"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _find_root():
    env = os.environ.get("FREP_PROTO_PY")
    protoc = shutil.which("protoc")
    if env:
        if _has_modules(env):
            return env
        pdir = _proto_dir()
        if pdir and protoc:
            generate(pdir, env, protoc)
            return env
        raise ImportError("frep: FREP_PROTO_PY=%s holds no generated modules (%s), and they "
                          "cannot be generated (protoc: %s, proto dir: %s)"
                          % (env, _MARKER, protoc, pdir))
    bundled = os.path.join(_PKG_DIR, "_gen")
    if _has_modules(bundled):
        return bundled
    pdir = _proto_dir()
    if pdir is None or protoc is None:
        raise ImportError("frep: the generated protobuf modules are missing. Set FREP_PROTO_PY "
                          "to a directory made by `protoc --python_out=DIR -Iproto ...` (the "
                          "build makes clients/python/gen), or install protoc and set "
                          "FREP_PROTO_DIR to frep's proto/ directory")
    digest = hashlib.sha256()
    for f in proto_files(pdir):
        digest.update(f.encode())
        with open(os.path.join(pdir, f), "rb") as fh:
            digest.update(fh.read())
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.path.join(cache, "frep", "proto-py-" + digest.hexdigest()[:16])
    if not _has_modules(root):
        generate(pdir, root, protoc)
    return root


def load(package):
    """Makes the generated modules importable under `package` (the frep
    package object) and imports them all. Returns the list of modules."""
    root = _find_root()
    gen_pkg = os.path.join(os.path.abspath(root), "frep")
    if gen_pkg not in package.__path__:
        package.__path__.append(gen_pkg)
    modules = []
    for base, _dirs, files in os.walk(gen_pkg):
        for f in sorted(files):
            if f.endswith("_pb2.py"):
                rel = os.path.relpath(os.path.join(base, f[:-3]), gen_pkg)
                name = package.__name__ + "." + rel.replace(os.sep, ".")
                modules.append(importlib.import_module(name))
    if not any(m.__name__.endswith("rpc.v1.envelope_pb2") for m in modules):
        raise ImportError("frep: no envelope_pb2 under %s" % gen_pkg)
    return modules


__all__ = ["load", "generate", "proto_files"]
if __name__ == "__main__":  # python3 -m frep._proto PROTO_DIR OUT_DIR
    generate(sys.argv[1], sys.argv[2])
