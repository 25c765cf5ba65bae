"""The HTTP endpoint (Connect protocol) with Python's urllib against real
frepd processes (ctest: http_endpoint_test): a replication between two
servers driven over HTTP alone, binary protobuf bodies, and each error class
with its Connect code and HTTP status; then https://.

Environment (tests/python_tests.cmake): FREPD, FREP_PROTO_PY, PYTHONPATH.
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frepd_procs  # noqa: E402
import http_util  # noqa: E402
import unittest_run  # noqa: E402

import frep  # noqa: E402

TOKEN = "http-test-token"
WORK = None
A = B = None
HTTP_A = HTTP_B = None


def setUpModule():
    global WORK, A, B, HTTP_A, HTTP_B
    WORK = frepd_procs.tmpdir()
    token = http_util.write_token(WORK, TOKEN)
    A, HTTP_A = http_util.start(WORK, "a", ["--token-file", token,
                                            "--max-message-bytes", "65536"])
    B, HTTP_B = http_util.start(WORK, "b")


def tearDownModule():
    bad = frepd_procs.stop_all((A, B), WORK)
    if bad:
        raise AssertionError("\n".join(bad))


def post(base, method, body, token=TOKEN, content_type="application/json", headers=None,
         context=None):
    """POSTs and returns (HTTP status, response headers, body bytes)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": content_type}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    req = urllib.request.Request(base + method, data=data, headers=h, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class HttpTest(unittest.TestCase):
    def ok(self, method, body, base=None, **kw):
        status, _, data = post(base or HTTP_A, method, body, **kw)
        self.assertEqual(status, 200, data)
        return json.loads(data)

    def error(self, status, code, method, body, *needles, base=None, **kw):
        got, headers, data = post(base or HTTP_A, method, body, **kw)
        self.assertEqual(got, status, data)
        self.assertEqual(headers["Content-Type"], "application/json")
        err = json.loads(data)
        self.assertEqual(err["code"], code, err)
        for n in needles:
            self.assertIn(n, err["message"])
        return err

    def add_failover_fails(self, octet, name, url, status, code, *needles, **kw):
        """Adds scope 10.<octet>.0.0 on A, then AddFailover of it to the
        partner url must fail with status and code, naming each needle."""
        scope = "10.%d.0.0" % octet
        self.ok("/frep.v1.DhcpServer/AddScope", {
            "scopeId": scope, "subnetMask": "255.255.255.0", "name": name,
            "startRange": "10.%d.0.1" % octet, "endRange": "10.%d.0.9" % octet})
        self.error(status, code, "/frep.v1.DhcpServer/AddFailover",
                   {"relationship": {"name": name, "partnerServer": url,
                                     "sharedSecret": "correct horse battery staple",
                                     "scopeIds": [scope]}},
                   "partner " + url, *needles, **kw)

    def test_http_replication_between_two_servers(self):
        scope = "10.5.0.0"
        self.ok("/frep.v1.DhcpServer/AddScope", {
            "scopeId": scope, "subnetMask": "255.255.255.0", "name": "Lab",
            "startRange": "10.5.0.10", "endRange": "10.5.0.99"})
        rel = self.ok("/frep.v1.DhcpServer/AddFailover", {"relationship": {
            "name": "relh", "partner_server": B.url, "mode": "FAILOVER_MODE_HOT_STANDBY",
            "shared_secret": "correct horse battery staple", "scope_ids": [scope],
            # By hand: auto-sync would send the reservation by itself, and the
            # replication below would then find nothing to change.
            "autoSync": "AUTO_SYNC_OFF"}})
        self.assertEqual(rel["scopeIds"], [scope])
        self.assertNotIn("sharedSecret", rel)
        self.ok("/frep.v1.DhcpServer/AddReservation", {
            "scopeId": scope, "ipAddress": "10.5.0.20", "clientId": "aa-bb-cc-dd-ee-ff",
            "name": "cam"})
        dry = self.ok("/frep.v1.FailoverReplication/ReplicateByName",
                      {"names": ["relh"], "dryRun": True})
        self.assertEqual(dry["results"][0]["changes"]["reservations"], {"added": 1})
        # B (no token, its own HTTP endpoint) does not have it yet.
        got = self.ok("/frep.v1.DhcpServer/ListReservations", {"scopeId": scope},
                      base=HTTP_B, token=None)
        self.assertEqual(got, {})
        r = self.ok("/frep.v1.FailoverReplication/ReplicateByName", {"names": ["relh"]},
                    headers={"Connect-Timeout-Ms": "20000"})
        res = r["results"][0]
        self.assertEqual((res["scopeId"], res["relationship"]), (scope, "relh"))
        self.assertNotIn("code", res)
        self.assertEqual(res["digestBefore"] != res["digestAfter"], True)
        got = self.ok("/frep.v1.DhcpServer/ListReservations", {"scope_id": scope},
                      base=HTTP_B, token=None)
        self.assertEqual([x["name"] for x in got["reservations"]], ["cam"])
        # The same through the nng client: one server, two doors.
        with frep.Client(B.url, timeout=10) as b:
            self.assertEqual([x.name for x in b.list_reservations(scope).reservations],
                             ["cam"])

    def test_http_binary_protobuf_body(self):
        body = frep.pb.ScopeKey(scope_id="10.77.0.0").SerializeToString()
        status, headers, data = post(HTTP_A, "/frep.v1.DhcpServer/GetScope", body,
                                     content_type="application/proto")
        self.assertEqual(status, 404, data)
        self.assertEqual(json.loads(data)["code"], "not_found")
        status, headers, data = post(HTTP_A, "/frep.v1.Health/Check", b"",
                                     content_type="application/proto")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/proto")
        self.assertEqual(frep.pb.HealthCheckResponse.FromString(data).status,
                         frep.pb.HealthCheckResponse.SERVING)
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/GetScope", b"\xff\xff\xff",
                   "does not decode as frep.v1.ScopeKey", content_type="application/proto")
        # A binary body gets the nng path's text checks before it is decoded
        # (protobuf-c would cut the string at its NUL): refused, naming the
        # field and the offset, and nothing is stored.
        nul = frep.pb.Scope(scope_id="10.78.0.0", subnet_mask="255.255.255.0",
                            start_range="10.78.0.10", end_range="10.78.0.20",
                            name="Office\x00; DROP").SerializeToString()
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/AddScope", nul,
                   "name", "NUL", content_type="application/proto")
        status, _, data = post(HTTP_A, "/frep.v1.DhcpServer/GetScope", {"scopeId": "10.78.0.0"})
        self.assertEqual(status, 404, data)
        bad = frep.pb.Scope(scope_id="10.78.0.0", subnet_mask="255.255.255.0",
                            name="x").SerializeToString().replace(b"x", b"\xff")
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/AddScope", bad,
                   "name", "UTF-8", content_type="application/proto")

    def test_http_invalid_argument(self):
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/GetScope", b'{"scopeId": ',
                   "not JSON")
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/AddFailover",
                   {"relationship": {"name": "x", "scopeIds": [7]}},
                   "relationship.scopeIds[0]: 7 is not a string")
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/GetScope",
                   {"scopeId": "10.0.0.0", "colour": "red"}, 'no field "colour"')
        # A \u0000 in a string is refused naming the field (the binary
        # path names it too); in a member name jansson refuses it, by line
        # and column.
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/GetScope",
                   b'{"scopeId": "a\\u0000b"}', "scopeId", "NUL")
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/AddScope",
                   b'{"scopeId": "10.78.0.0", "subnetMask": "255.255.255.0", '
                   b'"startRange": "10.78.0.10", "endRange": "10.78.0.20", '
                   b'"name": "Office\\u0000; DROP"}', "name", "NUL")
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/GetScope",
                   b'{"scope\\u0000Id": "a"}', "line 1, column", "NUL")
        # The server's own validation, named as on nng.
        self.error(400, "invalid_argument", "/frep.v1.DhcpServer/AddScope",
                   {"scopeId": "10.0.0.300", "subnetMask": "255.255.255.0"}, "10.0.0.300")
        self.error(400, "invalid_argument", "/frep.v1.Health/Check", {},
                   "Connect-Timeout-Ms", headers={"Connect-Timeout-Ms": "soon"})
        self.error(400, "invalid_argument", "/frep.v1.Health/Check", {},
                   "Connect-Protocol-Version", headers={"Connect-Protocol-Version": "2"})

    def test_http_not_found_and_already_exists(self):
        self.error(404, "not_found", "/frep.v1.DhcpServer/GetScope", {"scopeId": "10.99.0.0"},
                   "10.99.0.0")
        body = {"scopeId": "10.6.0.0", "subnetMask": "255.255.255.0", "name": "six",
                "startRange": "10.6.0.1", "endRange": "10.6.0.9"}
        self.ok("/frep.v1.DhcpServer/AddScope", body)
        self.error(409, "already_exists", "/frep.v1.DhcpServer/AddScope", body, "10.6.0.0")

    def test_http_unauthenticated(self):
        self.error(401, "unauthenticated", "/frep.v1.DhcpServer/ListScopes", {}, "Bearer",
                   token=None)
        self.error(401, "unauthenticated", "/frep.v1.DhcpServer/ListScopes", {}, token="wrong")
        # Health needs no token, as on nng.
        self.assertEqual(self.ok("/frep.v1.Health/Check", {}, token=None),
                         {"status": "SERVING"})

    def test_http_unimplemented_and_transport_errors(self):
        self.error(404, "unimplemented", "/frep.v1.DhcpServer/Nope", {}, "/frep.v1.DhcpServer/Nope")
        self.error(404, "unimplemented", "/nothing", {})
        # Partner calls are signed with metadata of their own (x-frep-*),
        # carried on nng only: refused by name over HTTP.
        self.error(501, "unimplemented", "/frep.v1.Partner/GetScopeDigests", {},
                   "not served over HTTP")
        # 415 as Connect servers answer it: Accept-Post, no Connect error
        # body (a Connect client reads `unknown`), the reason as text.
        got, headers, data = post(HTTP_A, "/frep.v1.Health/Check", b"{}",
                                  content_type="text/plain", headers={"X-Request-Id": "ct-1"})
        self.assertEqual(got, 415)
        self.assertIn("application/proto", headers["Accept-Post"])
        self.assertTrue(headers["Content-Type"].startswith("text/plain"), headers)
        self.assertIn(b'Content-Type "text/plain" is not application/json', data)
        self.assertEqual(headers["X-Request-Id"], "ct-1")
        self.error(501, "unimplemented", "/frep.v1.Health/Check", {}, "Content-Encoding",
                   headers={"Content-Encoding": "gzip"})
        # Over --max-message-bytes (64 KiB here): refused with a status (the
        # nng listeners would drop it without an answer).
        self.error(429, "resource_exhausted", "/frep.v1.DhcpServer/GetScope",
                   {"scopeId": "x" * 70000}, "over the server's limit of 65536")
        req = urllib.request.Request(HTTP_A + "/frep.v1.Health/Check", method="GET")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(cm.exception.code, 405)

    def test_http_deadline_exceeded(self):
        # A "partner" that completes the SP handshake (as a REP socket) and
        # never answers: AddFailover's partner call gets what remains of the
        # caller's Connect-Timeout-Ms (not --partner-timeout-ms, 3 s here), and
        # the answer names the partner and whose deadline it was.
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        conns = []

        def serve():
            while True:
                try:
                    conn, _ = mute.accept()
                except OSError:
                    return
                conns.append(conn)
                try:
                    conn.recv(8)
                    conn.sendall(b"\x00SP\x00\x00\x31\x00\x00")  # REP v0
                except OSError:
                    pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        try:
            url = "tcp://127.0.0.1:%d" % mute.getsockname()[1]
            self.add_failover_fails(8, "mute", url, 504, "deadline_exceeded",
                                    "/frep.v1.Partner/MirrorRelationship",
                                    "the request was sent",
                                    "what remained of the caller's deadline",
                                    headers={"Connect-Timeout-Ms": "1500"})
        finally:
            mute.close()
            for c in conns:
                c.close()

    def test_http_partner_refused_is_unavailable(self):
        # Nothing listens at the partner's address: UNAVAILABLE at once
        # (the clients fail fast), naming the partner. The port stays bound
        # (not listening) by this test throughout, so a connection there is
        # refused and no other process can take the number meanwhile.
        held = socket.socket()
        try:
            held.bind(("127.0.0.1", 0))
            url = "tcp://127.0.0.1:%d" % held.getsockname()[1]
            self.add_failover_fails(9, "gone", url, 503, "unavailable", "connection refused",
                                    headers={"Connect-Timeout-Ms": "20000"})
        finally:
            held.close()

    def test_http_connection_bound(self):
        # nng's HTTP server has no read deadline: 300 connections that never
        # send a byte would hold 300 descriptors. Beyond 256 the oldest are
        # shut down (within a scan, about a second), and calls still work.
        host, port = HTTP_B[len("http://"):].rsplit(":", 1)
        socks = []
        try:
            for _ in range(300):
                socks.append(socket.create_connection((host, int(port)), timeout=10))
            closed = set()
            deadline = time.monotonic() + 15
            while len(closed) < 300 - 256 and time.monotonic() < deadline:
                for i, sk in enumerate(socks):
                    if i in closed:
                        continue
                    sk.setblocking(False)
                    try:
                        if sk.recv(1) == b"":
                            closed.add(i)
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed.add(i)
                time.sleep(0.1)
            self.assertGreaterEqual(len(closed), 300 - 256, "connections shut down")
            self.assertEqual(self.ok("/frep.v1.Health/Check", {}, base=HTTP_B, token=None),
                             {"status": "SERVING"})
            with urllib.request.urlopen(HTTP_B + "/metrics", timeout=10) as r:
                text = r.read().decode()
            counted = [line for line in text.splitlines()
                       if line.startswith("frep_http_connections_closed_total ")]
            self.assertTrue(counted and float(counted[0].split()[1]) >= 300 - 256, counted)
        finally:
            for sk in socks:
                sk.close()

    def test_http_request_id_echoed(self):
        status, headers, _ = post(HTTP_A, "/frep.v1.Health/Check", {},
                                  headers={"X-Request-Id": "req-42"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["X-Request-Id"], "req-42")


class HttpsTest(unittest.TestCase):
    def test_https_endpoint(self):
        key = os.path.join(WORK, "k.pem")
        cert = os.path.join(WORK, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        c = frepd_procs.Frepd(WORK, "s", ["--http", "https://127.0.0.1:0", "--tls-cert", cert,
                                          "--tls-key", key])
        try:
            import re
            import time
            url = None
            end = time.monotonic() + 15
            while url is None and time.monotonic() < end:
                m = re.search(r"listening on (https://127\.0\.0\.1:\d+)", c.log())
                url = m.group(1) if m else None
                time.sleep(0.02)
            self.assertIsNotNone(url, c.log())
            ctx = ssl.create_default_context(cafile=cert)
            # A keep-alive client (as curl is), two calls on one
            # connection: urllib asks the server to close after each
            # response, and over TLS nng 1.5.2 then may lose the body
            # (docs/PROTOCOL.md §15, "Known limit").
            import http.client
            import urllib.parse
            u = urllib.parse.urlsplit(url)
            conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
            try:
                for _ in range(2):
                    conn.request("POST", "/frep.v1.Health/Check", body=b"{}",
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    self.assertEqual((r.status, json.loads(r.read())),
                                     (200, {"status": "SERVING"}))
            finally:
                conn.close()
        finally:
            self.assertEqual(c.stop(), 0, c.log())


if __name__ == "__main__":
    sys.exit(unittest_run.main(__name__))
