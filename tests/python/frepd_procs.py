"""Real frepd processes for the Python client's tests.

Each runs in a temp dir on ipc:// (or on a listen URL the test gives, e.g.
tls+tcp://localhost:0), is started by path ($FREPD) and stopped by its PID
with SIGTERM; stop() returns the exit status (0 expected). Nothing here
imports frep, so the install test can use it too.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

FREPD = os.environ.get("FREPD")
# LeakSanitizer's suppressions for a frepd that tests drive into nng 1.5.2's
# own leaks (tests/nng_1518.supp says which and why); inert without ASan.
NNG_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "nng_1518.supp")

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
    def __init__(self, workdir, name, extra=(), listen=None, nng_abused=False):
        """listen: the URL to listen on (default ipc://WORKDIR/NAME.sock).
        With port 0 the system picks one at each start, frepd advertises
        what it bound, and self.url is that bound URL, read from its log.
        nng_abused: the test sends this frepd what nng itself drops (refused
        TLS handshakes, connections closed with calls in flight): its
        leaks inside libnng are not reported (tests/nng_1518.supp)."""
        if not FREPD:
            raise RuntimeError("FREPD is not set (run through ctest)")
        self.name = name
        self.listen = listen or "ipc://%s/%s.sock" % (workdir, name)
        self.any_port = re.search(r"^[a-z0-9+]+://[^/]*:0(/|$)", self.listen) is not None
        self.url = self.listen
        self.db = os.path.join(workdir, name + ".db")
        self.log_path = os.path.join(workdir, name + ".log")
        self.args = [FREPD, "--listen", self.listen]
        if not self.any_port:
            self.args += ["--advertise-url", self.listen]
        self.args += ["--db", self.db, "--partner-timeout-ms", "3000"] + list(extra)
        self.env = None
        if nng_abused:
            self.env = dict(os.environ,
                            LSAN_OPTIONS="suppressions=" + os.path.normpath(NNG_SUPP))
        self.proc = None
        self.start()

    def start(self):
        with open(self.log_path, "ab") as log:
            log_from = log.tell()
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env)
        _live[self.proc.pid] = self
        if self.any_port:
            self.url = self._bound_url(log_from)

    def _bound_url(self, log_from, timeout=15.0):
        """The URL frepd logs as "listening on SCHEME://HOST:PORT" after
        log_from; raises if it dies or says nothing within timeout."""
        scheme = self.listen.split("://", 1)[0]
        pattern = re.compile(r"listening on (%s://\S+)" % re.escape(scheme))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with open(self.log_path, "rb") as f:
                f.seek(log_from)
                m = pattern.search(f.read().decode("utf-8", "replace"))
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("frepd %s never said where it listens:\n%s" % (self.name, self.log()))

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


def stop_all(nodes, workdir):
    """Stops every Frepd of nodes (None skipped) and removes workdir; returns
    a message for each that did not exit 0 (its log included)."""
    bad = []
    for n in nodes:
        if n is not None:
            rc = n.stop()
            if rc != 0:
                bad.append("frepd %s exited %s:\n%s" % (n.name, rc, n.log()))
    rmtree(workdir)
    return bad
