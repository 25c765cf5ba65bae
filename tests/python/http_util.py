"""Helpers for the HTTP endpoint's tests: a frepd with --http on a free port."""

import os
import re
import time

import frepd_procs


def start(workdir, name, extra=()):
    """Starts frepd `name` with --http on port 0; returns (Frepd, http_url)."""
    d = frepd_procs.Frepd(workdir, name, ["--http", "http://127.0.0.1:0"] + list(extra))
    end = time.monotonic() + 15
    while time.monotonic() < end:
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+) \(HTTP", d.log())
        if m:
            return d, m.group(1)
        if d.proc.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError("frepd %s has no HTTP endpoint:\n%s" % (name, d.log()))


def write_token(workdir, token):
    path = os.path.join(workdir, "token")
    with open(path, "w") as f:
        f.write(token + "\n")
    return path
