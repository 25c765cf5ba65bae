"""`pip install clients/python` into a venv, offline, then the installed
package alone against two real frepd (ctest: interop).

The source is copied to a temp dir first (pip builds in tree). The venv
is made with --system-site-packages so it sees Debian's python3-protobuf,
setuptools and wheel; pip runs with --no-build-isolation --no-index, so
nothing is downloaded. Then, with no PYTHONPATH and no FREP_PROTO_PY, the
venv's python imports frep from site-packages (modules bundled at install
time) and runs examples/replicate.py. Also checks generation on first
import: into an empty $FREP_PROTO_PY, and into $XDG_CACHE_HOME.
Exits 77 (skipped) when venv, pip, setuptools or wheel is missing.
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frepd_procs  # noqa: E402
import unittest_run  # noqa: E402

SOURCE_DIR = os.environ.get("FREP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
PROTO_DIR = os.path.join(SOURCE_DIR, "proto")
PY_SRC = os.path.join(SOURCE_DIR, "clients", "python")


def missing_tools():
    for mod in ("venv", "ensurepip", "pip", "setuptools", "wheel"):
        r = subprocess.run([sys.executable, "-c", "import " + mod], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return mod
    if shutil.which("protoc") is None:
        return "protoc"
    return None


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FREP_PROTO_PY", "FREP_PROTO_DIR", "PYTHONHOME")}
    env.update(extra)
    return env


def run(args, **kw):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240, **kw)
    return r.returncode, r.stdout.decode("utf-8", "replace")


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = frepd_procs.tmpdir()

    @classmethod
    def tearDownClass(cls):
        frepd_procs.rmtree(cls.work)

    def test_pip_install_into_venv_and_run_example(self):
        src = os.path.join(self.work, "src")
        shutil.copytree(PY_SRC, src, ignore=shutil.ignore_patterns(
            "build", "*.egg-info", "_gen", "__pycache__"))
        venv = os.path.join(self.work, "venv")
        rc, out = run([sys.executable, "-m", "venv", "--system-site-packages", venv])
        self.assertEqual(rc, 0, out)
        py = os.path.join(venv, "bin", "python")
        rc, out = run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                       "--disable-pip-version-check", src],
                      env=clean_env(FREP_PROTO_DIR=PROTO_DIR), cwd=self.work)
        self.assertEqual(rc, 0, out)

        env = clean_env(XDG_CACHE_HOME=os.path.join(self.work, "no-cache"))
        rc, out = run([py, "-c", "import frep, os; print(frep.__file__); "
                       "print(frep.__path__[-1]); print(frep.pb.Scope.DESCRIPTOR.full_name)"],
                      env=env, cwd=self.work)
        self.assertEqual(rc, 0, out)
        lines = out.split()
        self.assertTrue(lines[0].startswith(venv), out)
        self.assertTrue(lines[1].endswith(os.path.join("frep", "_gen", "frep")), out)
        self.assertEqual(lines[2], "frep.v1.Scope")
        self.assertFalse(os.path.exists(os.path.join(self.work, "no-cache")))
        # Typed (PEP 561): py.typed, and .pyi stubs made with the modules.
        pkg = os.path.dirname(lines[0])
        self.assertTrue(os.path.isfile(os.path.join(pkg, "py.typed")), pkg)
        self.assertTrue(os.path.isfile(os.path.join(lines[1], "v1", "replication_pb2.pyi")),
                        lines[1])

        a, b = frepd_procs.Frepd(self.work, "a"), frepd_procs.Frepd(self.work, "b")
        try:
            self.assertTrue(a.wait_socket() and b.wait_socket(), a.log() + b.log())
            example = os.path.join(src, "examples", "replicate.py")
            rc, out = run([py, example, a.url, b.url], env=env, cwd=self.work)
            self.assertEqual(rc, 0, out)
            self.assertIn("10.1.0.0 OK reservations added: 1", out)
        finally:
            self.assertEqual(a.stop(), 0, a.log())
            self.assertEqual(b.stop(), 0, b.log())

    def test_generated_on_first_import(self):
        # Into an empty FREP_PROTO_PY.
        gen = os.path.join(self.work, "gen-here")
        os.makedirs(gen)
        env = clean_env(PYTHONPATH=PY_SRC, FREP_PROTO_PY=gen, FREP_PROTO_DIR=PROTO_DIR)
        rc, out = run([sys.executable, "-c", "import frep; print(frep.pb.ReplicateResponse)"],
                      env=env, cwd=self.work)
        self.assertEqual(rc, 0, out)
        self.assertTrue(os.path.isfile(os.path.join(gen, "frep", "v1", "dhcp_server_pb2.py")))
        # Without FREP_PROTO_PY: into the cache, from the source tree's proto/.
        cache = os.path.join(self.work, "cache")
        env = clean_env(PYTHONPATH=PY_SRC, XDG_CACHE_HOME=cache)
        rc, out = run([sys.executable, "-c", "import frep; print(frep.__path__[-1])"],
                      env=env, cwd=self.work)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.strip().startswith(os.path.join(cache, "frep", "proto-py-")), out)


def main():
    what = missing_tools()
    if what:
        print("FREP-SKIP(python-venv): %s is not available (apt install python3-venv python3-pip "
              "python3-setuptools python3-wheel protobuf-compiler)" % what)
        return 77
    return unittest_run.main(__name__)


if __name__ == "__main__":
    sys.exit(main())
