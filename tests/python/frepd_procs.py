"""Real frepd processes for the Python client's tests.

Each runs in a temp dir on ipc://, is started by path ($FREPD) and stopped
by its PID with SIGTERM; stop() returns the exit status (0 expected).
Nothing here imports frep, so the install test can use it too.
"""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time

FREPD = os.environ.get("FREPD")

_live = {}


def _kill_leftovers():
    for pid in list(_live):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


atexit.register(_kill_leftovers)


def tmpdir():
    # Under $TMPDIR (make test checks that a run leaves nothing there);
    # short: an ipc:// path must fit in sun_path (108 bytes).
    return tempfile.mkdtemp(prefix="frep-py-")


class Frepd:
    def __init__(self, workdir, name, extra=()):
        if not FREPD:
            raise RuntimeError("FREPD is not set (run through ctest)")
        self.name = name
        self.url = "ipc://%s/%s.sock" % (workdir, name)
        self.db = os.path.join(workdir, name + ".db")
        self.log_path = os.path.join(workdir, name + ".log")
        self.args = [FREPD, "--listen", self.url, "--advertise-url", self.url, "--db", self.db,
                     "--partner-timeout-ms", "3000"] + list(extra)
        self.proc = None
        self.start()

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        _live[self.proc.pid] = self

    def wait_socket(self, timeout=10.0):
        """Waits until the listener's socket file exists (or frepd died)."""
        path = self.url[len("ipc://"):]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if os.path.exists(path):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        return False

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Signals frepd by PID and reaps it; returns its exit status."""
        if self.proc is None:
            return None
        pid = self.proc.pid
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(pid, signal.SIGKILL)
            rc = self.proc.wait()
            rc = "timeout (killed)"
        _live.pop(pid, None)
        self.proc = None
        return rc


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
