"""Structured logs and request ids across two servers (ctest: logs_test).

A runs with --log-format json, B with the text form, both at debug (every
call logged). A request id given by the caller (over HTTP and over nng) is
found in A's line for the call and in B's line for the partner call it
caused; a call without one gets an id made by the server, returned in
X-Request-Id and logged; a failed replication and the failed partner call
behind it are logged with the id.

Environment (tests/python_tests.cmake): FREPD, FREP_PROTO_PY, PYTHONPATH.
"""

import json
import os
import sys
import time
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


def post(base, path, body, rid=None):
    h = {"Content-Type": "application/json"}
    if rid:
        h["X-Request-Id"] = rid
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=h,
                                 method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers.get("X-Request-Id"), json.loads(r.read())


def json_lines(node):
    out = []
    for line in node.log().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def wait_for(pred, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def a_has(a, **want):
    return any(all(o.get(k) == v for k, v in want.items()) for o in json_lines(a))


def b_has(b, *parts):
    return any(all(p in line for p in parts) for line in b.log().splitlines())


def main():
    work = frepd_procs.tmpdir()
    a = b = None
    try:
        a, http_a = http_util.start(work, "a", ["--log-format", "json", "--log-level", "debug"])
        b, _ = http_util.start(work, "b", ["--log-format", "text", "--log-level", "debug"])

        # Over HTTP with the caller's id: AddFailover makes a partner call.
        post(http_a, "/frep.v1.DhcpServer/AddScope", {
            "scopeId": "10.7.0.0", "subnetMask": "255.255.255.0", "name": "logs",
            "startRange": "10.7.0.1", "endRange": "10.7.0.9"})
        got, _ = post(http_a, "/frep.v1.DhcpServer/AddFailover", {"relationship": {
            "name": "rell", "partnerServer": b.url,
            "sharedSecret": "correct horse battery staple", "scopeIds": ["10.7.0.0"]}},
            rid="req-add-1")
        check(got == "req-add-1", "HTTP echoes X-Request-Id (%s)" % got)
        check(wait_for(lambda: a_has(a, event="call", method="/frep.v1.DhcpServer/AddFailover",
                                     status="OK", request_id="req-add-1", peer="inproc")),
              "A logs the HTTP call as JSON with the request id")
        check(wait_for(lambda: b_has(b, " call ", "method=/frep.v1.Partner/MirrorRelationship",
                                     "status=OK", "request_id=req-add-1")),
              "B logs the partner call (text) with the same request id")

        # Over nng with the caller's id in metadata.
        with frep.Client(a.url, timeout=30) as c:
            c.replicate_by_name(names=["rell"], metadata=[("x-request-id", "req-repl-2")])
        check(wait_for(lambda: a_has(a, event="call",
                                     method="/frep.v1.FailoverReplication/ReplicateByName",
                                     request_id="req-repl-2", peer="ipc")),
              "A logs the nng call with the request id and peer ipc")
        check(wait_for(lambda: b_has(b, "method=/frep.v1.Partner/", "request_id=req-repl-2")),
              "B logs the replication's partner calls with the same id")

        # No id given: the server makes one, returns it and logs it.
        made, _ = post(http_a, "/frep.v1.Health/Check", {})
        check(made is not None and len(made) == 16, "an id is made (%s)" % made)
        check(wait_for(lambda: a_has(a, method="/frep.v1.Health/Check", request_id=made)),
              "the made id is in A's log")

        # A failed replication and its partner call are logged with the id.
        rc = b.stop()
        check(rc == 0, "B stops (%s)" % rc)
        b_log = b
        b = None
        with frep.Client(a.url, timeout=30) as c:
            r = c.replicate_by_name(names=["rell"], metadata=[("x-request-id", "req-fail-3")])
            check(r.results and r.results[0].code == frep.Code.UNAVAILABLE,
                  "replication to a stopped partner: UNAVAILABLE (%s)"
                  % [x.code for x in r.results])
        check(wait_for(lambda: a_has(a, event="replication", status="UNAVAILABLE",
                                     request_id="req-fail-3")),
              "the failed replication is logged with the id")
        check(wait_for(lambda: a_has(a, event="partner_call", status="UNAVAILABLE",
                                     request_id="req-fail-3")),
              "the failed partner call is logged with the id")
        lines = json_lines(a)
        check(lines and all({"time", "level", "event"} <= set(o) for o in lines),
              "every JSON line has time, level and event (%d lines)" % len(lines))
        raw = [x for x in a.log().splitlines() if x and not x.startswith("{")]
        check(not raw, "A printed only JSON lines (%r)" % raw[:2])
        del b_log
    except FrepError as e:
        check(False, "unexpected %s" % e)
    finally:
        for n in (a, b):
            if n is not None:
                rc = n.stop()
                check(rc == 0, "frepd %s exits 0 (%s)" % (n.name, rc))
        frepd_procs.rmtree(work)
    print("%d failed" % len(FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
