"""GET /healthz and /metrics on the HTTP endpoint, and grpc.health.v1 beside
frep.v1.Health (ctest: http_metrics_test): counters match the calls made
(over nng and HTTP), replications are counted by result, the store's size is
there, and `promtool check metrics` accepts the text.

promtool comes from Debian's `prometheus` package (large: the Makefile's
TEST_DEB_PACKAGES); without it the promtool check is skipped (FREP-SKIP(promtool), exit 77)
after every other check has run.

Environment (tests/python_tests.cmake): FREPD, FREP_PROTO_PY, PYTHONPATH.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frepd_procs  # noqa: E402
import http_util  # noqa: E402

import frep  # noqa: E402
from frep import FrepError  # noqa: E402

FAILED = []


def check(cond, what):
    print("%s %s" % ("ok  " if cond else "FAIL", what))
    if not cond:
        FAILED.append(what)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def sample(text, name, **labels):
    """The value of the sample name{labels} (labels in any order), or None."""
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if got == {k: str(v) for k, v in labels.items()}:
            return float(m.group(4))
    return None


def main():
    work = frepd_procs.tmpdir()
    a = b = None
    promtool_rc = None
    try:
        a, http_a = http_util.start(work, "a")
        b, _ = http_util.start(work, "b")

        status, headers, body = get(http_a + "/healthz")
        check(status == 200 and body == "SERVING\n", "/healthz: 200 SERVING (%s %r)"
              % (status, body))

        # Calls over nng and over HTTP, with known outcomes.
        with frep.Client(a.url, timeout=30) as c:
            c.add_scope(scope_id="10.3.0.0", subnet_mask="255.255.255.0", name="m",
                        start_range="10.3.0.1", end_range="10.3.0.9")
            for _ in range(3):
                try:
                    c.get_scope("10.4.0.0")
                except FrepError:
                    pass
            c.add_failover(relationship={
                "name": "relm", "partner_server": b.url,
                "shared_secret": "correct horse battery staple", "scope_ids": ["10.3.0.0"]})
            c.replicate_by_name(names=["relm"])
            r = c.call("/grpc.health.v1.Health/Check", frep.pb.HealthCheckRequest(),
                       frep.pb.HealthCheckResponse)
            check(r.status == frep.pb.HealthCheckResponse.SERVING,
                  "grpc.health.v1.Health/Check over nng: SERVING")
            try:
                c.call("/grpc.health.v1.Health/Check",
                       frep.pb.HealthCheckRequest(service="no.such.Service"),
                       frep.pb.HealthCheckResponse)
                check(False, "grpc.health.v1 Check of an unknown service fails")
            except FrepError as e:
                check(e.code == frep.Code.NOT_FOUND,
                      "grpc.health.v1 Check of an unknown service: NOT_FOUND (%s)" % e.code)
        st, body = post(http_a, "/grpc.health.v1.Health/Check",
                        {"service": "frep.v1.DhcpServer"})
        check((st, body) == (200, {"status": "SERVING"}),
              "grpc.health.v1.Health/Check over HTTP: %s %s" % (st, body))
        st, body = post(http_a, "/frep.v1.DhcpServer/GetScope", {"scopeId": "10.4.0.0"})
        check(st == 404, "GetScope over HTTP: 404")
        # Refused by the endpoint itself, before the server: counted too.
        st, body = post(http_a, "/frep.v1.DhcpServer/GetScope", {"scopeId": 7})
        check(st == 400, "GetScope with a number for scopeId: 400")
        st, body = post(http_a, "/frep.v1.DhcpServer/Nope", {})
        check(st == 404, "an unknown method over HTTP: 404")
        req = urllib.request.Request(http_a + "/frep.v1.DhcpServer/GetScope", data=b"{}",
                                     method="POST", headers={"Content-Type": "text/xml"})
        try:
            urllib.request.urlopen(req, timeout=30)
            st = 200
        except urllib.error.HTTPError as e:
            st = e.code
        check(st == 415, "GetScope as text/xml: 415 (%s)" % st)

        status, headers, text = get(http_a + "/metrics")
        check(status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4"),
              "/metrics: 200, Prometheus text (%s)" % headers["Content-Type"])
        v = sample(text, "frep_rpc_calls_total", method="/frep.v1.DhcpServer/GetScope",
                   code="NOT_FOUND")
        check(v == 4, "GetScope NOT_FOUND counted 4 times, nng and HTTP (%s)" % v)
        v = sample(text, "frep_rpc_calls_total", method="/frep.v1.DhcpServer/GetScope",
                   code="INVALID_ARGUMENT")
        check(v == 1, "GetScope refused by the HTTP endpoint (bad JSON) counted (%s)" % v)
        v = sample(text, "frep_rpc_calls_total", method="/frep.v1.DhcpServer/GetScope",
                   code="UNKNOWN")
        check(v == 1, "GetScope refused with 415 counted as UNKNOWN (%s)" % v)
        v = sample(text, "frep_rpc_calls_total", method="unknown", code="UNIMPLEMENTED")
        check(v == 1, "an unknown method over HTTP counted under method=\"unknown\" (%s)" % v)
        v = sample(text, "frep_rpc_calls_total", method="/frep.v1.DhcpServer/AddScope", code="OK")
        check(v == 1, "AddScope OK counted once (%s)" % v)
        v = sample(text, "frep_rpc_call_duration_seconds_count",
                   method="/frep.v1.DhcpServer/GetScope")
        check(v == 6, "GetScope latency histogram holds 6 calls, 2 refused by HTTP (%s)" % v)
        v = sample(text, "frep_rpc_call_duration_seconds_bucket",
                   method="/frep.v1.DhcpServer/GetScope", le="+Inf")
        check(v == 6, "GetScope's +Inf bucket is 6 (%s)" % v)
        v = sample(text, "frep_replications_total", result="OK")
        check(v == 1, "one replication counted with result OK (%s)" % v)
        # The worker's first scan comes after its debounce: polled, bounded.
        deadline = time.monotonic() + 15
        v = sample(text, "frep_auto_sync_scans_total")
        while (v is None or v < 1) and time.monotonic() < deadline:
            time.sleep(0.1)
            v = sample(get(http_a + "/metrics")[2], "frep_auto_sync_scans_total")
        check(v is not None and v >= 1, "auto-sync scans counted (%s)" % v)
        for name in ("frep_auto_sync_scopes_sent_total", "frep_auto_sync_conflicts_total",
                     "frep_auto_sync_failures_total", "frep_auto_sync_pending_scopes",
                     "frep_auto_sync_error_scopes"):
            v = sample(text, name)
            check(v is not None and v >= 0, "%s exported (%s)" % (name, v))
        v = sample(text, "frep_store_bytes")
        check(v is not None and v > 0, "frep_store_bytes > 0 (%s)" % v)
        v = sample(text, "frep_rpc_calls_total", method="/grpc.health.v1.Health/Check",
                   code="NOT_FOUND")
        check(v == 1, "grpc.health.v1 NOT_FOUND counted (%s)" % v)

        promtool = shutil.which("promtool")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                               capture_output=True)
            check(r.returncode == 0, "promtool check metrics: exit %d %s%s"
                  % (r.returncode, r.stdout, r.stderr))
        else:
            print("FREP-SKIP(promtool): promtool check metrics not run: promtool is not "
                  "installed (apt-get install prometheus; make deps-test)")
            promtool_rc = 77
    finally:
        for n in (a, b):
            if n is not None:
                rc = n.stop()
                check(rc == 0, "frepd %s exits 0 (%s)" % (n.name, rc))
        frepd_procs.rmtree(work)
    print("%d failed" % len(FAILED))
    if FAILED:
        return 1
    return promtool_rc or 0


if __name__ == "__main__":
    sys.exit(main())
