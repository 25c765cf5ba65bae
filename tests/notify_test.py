"""frepd's systemd readiness (Type=notify) without systemd: a datagram
socket stands in for the service manager ($NOTIFY_SOCKET). frepd must send
READY=1 once it serves (Health answers then), and STOPPING=1 on SIGTERM
before it exits 0. Run by ctest."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

frepd = os.environ["FREPD"]
frepctl = os.environ["FREPCTL"]
work = tempfile.mkdtemp(prefix="frep-notify-")
proc = None
try:
    sock_path = os.path.join(work, "notify.sock")
    mgr = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    mgr.bind(sock_path)
    mgr.settimeout(30)  # a bound on a hung frepd, not a timing assertion
    url = "ipc://%s/frepd.sock" % work
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    log = open(os.path.join(work, "frepd.log"), "w")
    proc = subprocess.Popen([frepd, "--listen", url, "--db", os.path.join(work, "frep.db")],
                            env=env, stderr=log)
    msg = mgr.recv(4096).decode()
    assert "READY=1" in msg.split("\n"), "first notification %r is not READY=1" % msg
    # Ready means serving: Health answers at once, no retry needed.
    out = subprocess.run([frepctl, "--server", url, "--timeout", "5000", "health"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "SERVING" in out.stdout, out
    proc.send_signal(signal.SIGTERM)
    msg = mgr.recv(4096).decode()
    assert "STOPPING=1" in msg.split("\n"), "notification %r is not STOPPING=1" % msg
    rc = proc.wait(timeout=30)
    proc = None
    assert rc == 0, "frepd exited %d" % rc
    print("notify test: READY=1 when serving, STOPPING=1 on SIGTERM, exit 0")
finally:
    if proc is not None:
        proc.kill()
        proc.wait()
        sys.stderr.write(open(os.path.join(work, "frepd.log")).read())
    shutil.rmtree(work)
