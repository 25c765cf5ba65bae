"""clients/python/README.md runs as written (ctest: interop).

Every ```sh block of the README, in order, in one bash (set -e), from the
top of a copy of the tree: clients/python and proto/ copied (pip builds in
tree), build/ a link to this build. HOME is a temp dir (the README's venv
is ~/frep-venv) and so is TMPDIR (its mktemp -d); PYTHONPATH and
FREP_PROTO_PY start unset, as in a fresh shell. The blocks must exit 0 and
the example must print equal digests for A and B. Whatever the blocks left
running is killed by process group afterwards. Exits 77 (skipped) when
venv, pip, setuptools or wheel is missing.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

SOURCE_DIR = os.environ["FREP_SOURCE_DIR"]
BINARY_DIR = os.environ["FREP_BINARY_DIR"]
README = os.path.join(SOURCE_DIR, "clients", "python", "README.md")

for mod in ("venv", "ensurepip", "pip", "setuptools", "wheel"):
    if subprocess.run(["/usr/bin/python3", "-c", "import " + mod],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        print("FREP-SKIP(python-venv): /usr/bin/python3 lacks %s (apt install python3-venv "
              "python3-pip python3-setuptools python3-wheel)" % mod)
        sys.exit(77)

with open(README) as f:
    blocks = re.findall(r"^```sh\n(.*?)^```$", f.read(), re.S | re.M)
assert len(blocks) >= 3, "README.md has %d sh blocks" % len(blocks)

work = tempfile.mkdtemp(prefix="frep-readme-")
proc = None
try:
    tree = os.path.join(work, "frep")
    os.makedirs(os.path.join(tree, "clients"))
    shutil.copytree(os.path.join(SOURCE_DIR, "clients", "python"),
                    os.path.join(tree, "clients", "python"),
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "_gen", "__pycache__"))
    shutil.copytree(os.path.join(SOURCE_DIR, "proto"), os.path.join(tree, "proto"))
    os.symlink(BINARY_DIR, os.path.join(tree, "build"))
    for d in ("home", "tmp"):
        os.mkdir(os.path.join(work, d))
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "FREP_PROTO_PY", "FREP_PROTO_DIR", "PYTHONHOME",
                        "VIRTUAL_ENV")}
    env.update(HOME=os.path.join(work, "home"), TMPDIR=os.path.join(work, "tmp"),
               PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
    proc = subprocess.Popen(["bash", "-c", script], cwd=tree, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=240)
    out = out.decode("utf-8", "replace")
    print(out)
    assert proc.returncode == 0, "the README's blocks exited %d" % proc.returncode
    digests = re.findall(r"^digest ([AB]) (\S+)$", out, re.M)
    assert len(digests) == 2 and digests[0][1] == digests[1][1], digests
    print("readme test: %d sh blocks ran as written" % len(blocks))
finally:
    if proc is not None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its group: by id, never by name
        except ProcessLookupError:
            pass
        proc.wait()
    shutil.rmtree(work)
