"""Build hook: `pip install` generates the protobuf modules into the package.

The generated code is never committed. build_py runs
`protoc --python_out` on frep's proto/ (../../proto from here, or
$FREP_PROTO_DIR) into build/lib/frep/_gen, so the installed package carries
them. Without protoc or proto/ the install still succeeds, and the package
looks for the modules at import time instead (see frep/_proto.py).
"""

import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class build_py_with_proto(build_py):
    def run(self):
        super().run()
        proto_dir = os.environ.get("FREP_PROTO_DIR") or os.path.join(HERE, os.pardir, os.pardir,
                                                                    "proto")
        protoc = shutil.which("protoc")
        if not os.path.isfile(os.path.join(proto_dir, "frep", "rpc", "v1", "envelope.proto")):
            print("frep: no proto/ at %s: modules not bundled" % proto_dir, file=sys.stderr)
            return
        if protoc is None:
            print("frep: no protoc on PATH: modules not bundled", file=sys.stderr)
            return
        sys.path.insert(0, HERE)
        try:
            # frep/_proto.py only, without importing the package (which
            # would need the modules it is about to generate).
            import importlib.util
            spec = importlib.util.spec_from_file_location(
                "_frep_proto_gen", os.path.join(HERE, "frep", "_proto.py"))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            mod.generate(os.path.abspath(proto_dir),
                         os.path.join(self.build_lib, "frep", "_gen"), protoc)
        finally:
            sys.path.pop(0)


setup(cmdclass={"build_py": build_py_with_proto})
