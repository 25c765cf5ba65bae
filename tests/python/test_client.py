"""The Python client against two real frepd partners (ctest: interop).

Environment (set by tests/python_tests.cmake): FREPD, FREP_PROTO_PY (the
build's generated modules), PYTHONPATH (clients/python), FREP_SOURCE_DIR.
Prints unittest's summary and a closing "N passed, N failed" line; exits
non-zero on any failure, including a frepd that does not exit 0 on SIGTERM.
"""

import gc
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frepd_procs  # noqa: E402
import unittest_run  # noqa: E402

import frep  # noqa: E402
from frep import Code, FrepError  # noqa: E402

SOURCE_DIR = os.environ.get("FREP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
SECRET = "correct horse battery staple"
SCOPE = "10.1.0.0"

WORK = None
A = B = None


def healthy(url, timeout=10.0):
    # The server may still be starting: wait for it (wait-for-ready).
    with frep.Client(url, timeout=timeout, wait_for_ready=True) as c:
        return c.health.check().status == frep.pb.HealthCheckResponse.SERVING


def setUpModule():
    global WORK, A, B
    WORK = frepd_procs.tmpdir()
    A = frepd_procs.Frepd(WORK, "a")
    B = frepd_procs.Frepd(WORK, "b")
    for n in (A, B):
        if not healthy(n.url):
            raise RuntimeError("frepd %s did not become healthy:\n%s" % (n.name, n.log()))


def tearDownModule():
    bad = frepd_procs.stop_all((A, B), WORK)
    if bad:
        raise AssertionError("\n".join(bad))


def diff_of(result):
    return sorted((d.kind, d.key, frep.pb.DiffAction.Name(d.action)) for d in result.diff)


class ScenarioTest(unittest.TestCase):
    """Configure, relate, change, dry-run, replicate, read both sides."""

    def test_scenario(self):
        with frep.Client(A.url, timeout=30) as a, frep.Client(B.url, timeout=30) as b:
            # --- a scope with one of everything -------------------------
            s = a.add_scope(scope_id=SCOPE, subnet_mask="255.255.255.0", name="Office",
                            start_range="10.1.0.10", end_range="10.1.0.200")
            self.assertEqual(s.scope_id, SCOPE)
            self.assertEqual(s.name, "Office")
            self.assertEqual(s.state, frep.pb.ScopeState.Value("SCOPE_STATE_ACTIVE"))
            self.assertEqual(s.lease_duration_s, 8 * 86400)
            x = a.add_exclusion_range(scope_id=SCOPE, start_range="10.1.0.50",
                                      end_range="10.1.0.60")
            self.assertEqual((x.start_range, x.end_range), ("10.1.0.50", "10.1.0.60"))
            # A request message works as well as keyword arguments.
            r = a.add_reservation(frep.pb.Reservation(
                scope_id=SCOPE, ip_address="10.1.0.20", client_id="00-11-22-33-44-55",
                name="printer"))
            self.assertEqual((r.ip_address, r.name), ("10.1.0.20", "printer"))
            v = a.set_option_value(target={"scope_id": SCOPE},
                                   value={"option_id": 3, "values": ["10.1.0.1"]})
            self.assertEqual((v.option_id, list(v.values)), (3, ["10.1.0.1"]))
            p = a.add_policy(
                scope_id=SCOPE, name="bootp", lease_duration_s=3600,
                criteria=[{"type": "CRITERION_TYPE_USER_CLASS", "comparator": "COMPARATOR_EQ",
                           "values": ["Default BOOTP Class"]}],
                ip_ranges=[{"start_range": "10.1.0.100", "end_range": "10.1.0.120"}])
            self.assertEqual(p.name, "bootp")
            self.assertTrue(p.enabled)
            self.assertEqual(len(p.criteria), 1)
            self.assertEqual(p.ip_ranges[0].end_range, "10.1.0.120")

            self.assertEqual([e.start_range for e in a.list_exclusion_ranges(SCOPE).exclusions],
                             ["10.1.0.50"])
            self.assertEqual([r.name for r in a.list_reservations(SCOPE).reservations],
                             ["printer"])
            self.assertEqual([o.option_id for o in a.list_option_values(
                target={"scope_id": SCOPE}).values], [3])
            self.assertEqual([q.name for q in a.list_policies(SCOPE).policies], ["bootp"])

            # --- the relationship A -> B ---------------------------------
            # Replicated by hand below: auto-sync (on by default) would send
            # the changes by itself and race the dry run's "B unchanged".
            rel = a.add_failover(relationship={
                "name": "rel1", "partner_server": B.url,
                "mode": "FAILOVER_MODE_LOAD_BALANCE", "load_balance_percent": 60,
                "shared_secret": SECRET, "scope_ids": [SCOPE], "auto_sync": "AUTO_SYNC_OFF"})
            self.assertEqual(rel.name, "rel1")
            self.assertEqual(rel.partner_server, B.url)
            self.assertEqual(list(rel.scope_ids), [SCOPE])
            self.assertEqual(rel.shared_secret, "")  # input only, never returned
            mirror = b.get_failover("rel1")
            self.assertEqual(mirror.partner_server, A.url)
            self.assertEqual(mirror.load_balance_percent, 40)
            self.assertEqual(list(mirror.scope_ids), [SCOPE])
            self.assertEqual([f.name for f in a.list_failovers().relationships], ["rel1"])
            # AddFailover copied the scope once.
            first = a.get_scope_config(SCOPE).digest
            self.assertRegex(first, r"^[0-9a-f]{64}$")
            self.assertEqual(b.get_scope_config(SCOPE).digest, first)

            # --- change the scope on A -----------------------------------
            a.add_reservation(scope_id=SCOPE, ip_address="10.1.0.21",
                              client_id="00-11-22-33-44-66", name="laptop")
            a.set_reservation(reservation={"scope_id": SCOPE, "ip_address": "10.1.0.20",
                                           "name": "printer-2"}, update_mask=["name"])
            a.remove_exclusion_range(scope_id=SCOPE, start_range="10.1.0.50",
                                     end_range="10.1.0.60")
            a.add_exclusion_range(scope_id=SCOPE, start_range="10.1.0.70",
                                  end_range="10.1.0.80")
            a.set_option_value(target={"scope_id": SCOPE},
                               value={"option_id": 15, "values": ["example.org"]})
            s = a.set_scope(scope={"scope_id": SCOPE, "name": "Office (2nd floor)"},
                            update_mask=["name"])
            self.assertEqual(s.name, "Office (2nd floor)")
            self.assertEqual(s.start_range, "10.1.0.10")  # not in the mask: kept
            changed = a.get_scope_config(SCOPE).digest
            self.assertNotEqual(changed, first)

            # --- dry run: diff reported, B unchanged ---------------------
            plan = a.replicate_by_name(["rel1"], dry_run=True)
            self.assertEqual(len(plan.errors), 0)
            self.assertEqual(len(plan.results), 1)
            res = plan.results[0]
            self.assertEqual(res.code, Code.OK, res.message)
            self.assertEqual((res.scope_id, res.relationship, res.partner),
                             (SCOPE, "rel1", B.url))
            self.assertEqual(res.digest_before, first)
            self.assertEqual(res.changes.reservations.added, 1)
            self.assertEqual(res.changes.reservations.updated, 1)
            self.assertEqual(res.changes.exclusions.added, 1)
            self.assertEqual(res.changes.exclusions.removed, 1)
            self.assertEqual(res.changes.options.added, 1)
            self.assertEqual(res.changes.scope.updated, 1)
            self.assertEqual(diff_of(res), sorted([
                ("exclusion", "10.1.0.50-10.1.0.60", "DIFF_ACTION_REMOVE"),
                ("exclusion", "10.1.0.70-10.1.0.80", "DIFF_ACTION_ADD"),
                ("option", diff_key(res, "option", "DIFF_ACTION_ADD"), "DIFF_ACTION_ADD"),
                ("reservation", "10.1.0.20", "DIFF_ACTION_UPDATE"),
                ("reservation", "10.1.0.21", "DIFF_ACTION_ADD"),
                ("scope", SCOPE, "DIFF_ACTION_UPDATE"),
            ]))
            self.assertEqual(b.get_scope_config(SCOPE).digest, first)
            with self.assertRaises(FrepError) as cm:
                b.get_reservation(scope_id=SCOPE, ip_address="10.1.0.21")
            self.assertEqual(cm.exception.name, "NOT_FOUND")

            # --- replicate ------------------------------------------------
            done = a.replicate_by_name(["rel1"])
            self.assertEqual(list(done.scope_ids), [SCOPE])
            self.assertEqual(len(done.errors), 0)
            res = done.results[0]
            self.assertEqual(res.code, Code.OK, res.message)
            self.assertFalse(res.unchanged)
            self.assertEqual(res.sent.reservations, 2)
            self.assertEqual(res.sent.exclusions, 1)
            self.assertEqual(res.sent.options, 2)
            self.assertEqual(res.sent.policies, 1)
            self.assertEqual(res.digest_before, first)
            self.assertEqual(res.digest_after, changed)

            # --- read both sides ------------------------------------------
            ca, cb = a.get_scope_config(SCOPE), b.get_scope_config(SCOPE)
            self.assertEqual(ca.digest, changed)
            self.assertEqual(cb.digest, ca.digest)
            self.assertEqual(cb.scope.name, "Office (2nd floor)")
            self.assertEqual(sorted((r.ip_address, r.name) for r in cb.reservations),
                             [("10.1.0.20", "printer-2"), ("10.1.0.21", "laptop")])
            self.assertEqual([(e.start_range, e.end_range) for e in cb.exclusions],
                             [("10.1.0.70", "10.1.0.80")])
            self.assertEqual(sorted((o.option_id, tuple(o.values)) for o in cb.options),
                             [(3, ("10.1.0.1",)), (15, ("example.org",))])
            self.assertEqual([q.name for q in cb.policies], ["bootp"])
            self.assertEqual(b.get_reservation(scope_id=SCOPE, ip_address="10.1.0.21").name,
                             "laptop")
            self.assertEqual(b.get_policy(scope_id=SCOPE, name="bootp").lease_duration_s, 3600)
            self.assertEqual(b.get_option_value(target={"scope_id": SCOPE},
                                                option_id=15).values[0], "example.org")

            # Again: nothing to send. By scope id: the same relationship.
            again = a.replicate_by_scope_id([SCOPE])
            self.assertTrue(again.results[0].unchanged)
            self.assertEqual(list(again.scope_ids), [SCOPE])
            # The audit trail on B recorded the application.
            audit = b.list_audit(scope_id=SCOPE).records
            self.assertTrue(any(rec.direction == "applied" and rec.digest_after == changed
                                for rec in audit), audit)

            # --- per-item error: unknown relationship name ----------------
            bad = a.replicate_by_name(["nope"])
            self.assertEqual(len(bad.results), 0)
            self.assertEqual(len(bad.scope_ids), 0)
            self.assertEqual(len(bad.errors), 1)
            self.assertEqual(bad.errors[0].item, "nope")
            self.assertEqual(bad.errors[0].code, Code.NOT_FOUND)
            self.assertIn("nope", bad.errors[0].message)


def diff_key(result, kind, action):
    for d in result.diff:
        if d.kind == kind and frep.pb.DiffAction.Name(d.action) == action:
            return d.key
    return None


class ErrorTest(unittest.TestCase):
    def setUp(self):
        self.c = frep.Client(A.url, timeout=10)
        # Connected before any test closes it: frepd 0.1.0 on nng 1.5.2
        # stops answering on ipc:// after a few connections that close
        # before the SP handshake completes (see the report).
        self.c.check()

    def tearDown(self):
        self.c.close()

    def test_bad_ip_is_invalid_argument_naming_the_value(self):
        with self.assertRaises(FrepError) as cm:
            self.c.add_scope(scope_id="10.0.0.300", subnet_mask="255.255.255.0",
                             start_range="10.0.0.10", end_range="10.0.0.20")
        e = cm.exception
        self.assertEqual(e.code, Code.INVALID_ARGUMENT)
        self.assertEqual(e.code, 3)
        self.assertEqual(e.name, "INVALID_ARGUMENT")
        self.assertIn("10.0.0.300", e.message)
        self.assertTrue(str(e).startswith("INVALID_ARGUMENT: "))
        with self.assertRaises(FrepError) as cm:
            self.c.replicate_by_scope_id(["10.1.0.256"])
        self.assertEqual(cm.exception.name, "INVALID_ARGUMENT")
        self.assertIn("10.1.0.256", cm.exception.message)

    def test_unknown_scope_is_not_found(self):
        for call in (lambda: self.c.get_scope("10.77.0.0"),
                     lambda: self.c.get_scope_config(scope_id="10.77.0.0"),
                     lambda: self.c.dhcp_server.remove_scope(scope_id="10.77.0.0")):
            with self.assertRaises(FrepError) as cm:
                call()
            self.assertEqual(cm.exception.code, Code.NOT_FOUND)
            self.assertEqual(cm.exception.name, "NOT_FOUND")
            self.assertIn("10.77.0.0", cm.exception.message)
            # One class per status under FrepError; the code is an enum.
            self.assertIsInstance(cm.exception, frep.NotFoundError)
            self.assertIs(cm.exception.code, Code.NOT_FOUND)
        with self.assertRaises(frep.NotFoundError):
            self.c.get_scope("10.77.0.0")
        self.assertIs(frep.ERRORS[Code.UNAVAILABLE], frep.UnavailableError)
        self.assertTrue(issubclass(frep.DeadlineExceededError, FrepError))
        self.assertEqual(type(FrepError(Code.ALREADY_EXISTS, "x")).__name__, "AlreadyExistsError")
        with self.assertRaises(FrepError) as cm:
            self.c.health.check(service="no.such.Service")
        self.assertEqual(cm.exception.name, "NOT_FOUND")

    def test_already_exists_and_unknown_scope_id_item(self):
        self.c.add_scope(scope_id="10.2.0.0", subnet_mask="255.255.255.0", name="two",
                         start_range="10.2.0.10", end_range="10.2.0.20")
        with self.assertRaises(FrepError) as cm:
            self.c.add_scope(scope_id="10.2.0.0", subnet_mask="255.255.255.0", name="two",
                             start_range="10.2.0.10", end_range="10.2.0.20")
        self.assertEqual(cm.exception.name, "ALREADY_EXISTS")
        r = self.c.replicate_by_scope_id(["10.2.0.0", "10.8.0.0"])
        self.assertEqual([(e.item, e.code) for e in r.errors],
                         [("10.2.0.0", Code.FAILED_PRECONDITION), ("10.8.0.0", Code.NOT_FOUND)])
        self.c.remove_scope("10.2.0.0")

    def test_unimplemented_method(self):
        with self.assertRaises(FrepError) as cm:
            self.c.call("/frep.v1.DhcpServer/NoSuchMethod", frep.pb.Empty(), frep.pb.Empty)
        self.assertEqual(cm.exception.name, "UNIMPLEMENTED")

    def test_argument_errors_are_type_errors(self):
        with self.assertRaises(TypeError):
            self.c.get_scope("10.1.0.0", "extra")
        with self.assertRaises(TypeError):
            self.c.get_scope(frep.pb.ScopeKey(scope_id="10.1.0.0"), scope_id="x")
        with self.assertRaises(ValueError):
            self.c.get_scope(no_such_field=1)

    def test_introspection(self):
        info = self.c.introspection.get_server_info()
        self.assertTrue(info.version.startswith("frepd "))
        self.assertGreaterEqual(info.max_message_bytes, 65536)
        for svc in ("frep.v1.Health", "frep.v1.DhcpServer", "frep.v1.FailoverReplication"):
            self.assertIn(svc, info.services)
        from google.protobuf import descriptor_pb2
        ds = self.c.get_descriptor_set()
        fds = descriptor_pb2.FileDescriptorSet.FromString(ds.file_descriptor_set)
        names = {f.name for f in fds.file}
        self.assertIn("frep/v1/dhcp_server.proto", names)
        # Every method of the frep contract the server describes is a method
        # of the client (grpc.health.v1, the standard health service served
        # beside frep.v1.Health, is reached with Client.call).
        self.assertIn("grpc/health/v1/health.proto", names)
        for f in fds.file:
            if not f.package.startswith("frep."):
                continue
            for svc in f.service:
                stub = getattr(self.c, frep.snake_case(svc.name))
                for m in svc.method:
                    self.assertTrue(callable(getattr(stub, frep.snake_case(m.name))),
                                    "%s.%s" % (svc.name, m.name))

    def test_closed_client_is_cancelled(self):
        c = frep.Client(A.url, timeout=5)
        self.assertEqual(c.check().status, 1)
        c.close()
        c.close()  # twice is harmless
        with self.assertRaises(FrepError) as cm:
            c.check()
        self.assertEqual(cm.exception.name, "CANCELLED")


class TransportTest(unittest.TestCase):
    def test_no_server_is_unavailable(self):
        # Fails fast: UNAVAILABLE naming the refusal, long before the 30 s
        # deadline.
        t0 = time.monotonic()
        with frep.Client("ipc://%s/nobody.sock" % WORK, timeout=30) as c:
            with self.assertRaises(FrepError) as cm:
                c.list_scopes()
        self.assertEqual(cm.exception.name, "UNAVAILABLE")
        self.assertIn("connection refused", cm.exception.message)
        self.assertLess(time.monotonic() - t0, 5)
        with frep.Client("tcp://127.0.0.1:1", timeout=30) as c:
            with self.assertRaises(FrepError) as cm:
                c.check()
        self.assertEqual(cm.exception.name, "UNAVAILABLE")
        self.assertIn("connection refused by tcp://127.0.0.1:1", cm.exception.message)
        self.assertLess(time.monotonic() - t0, 10)

    def test_wait_for_ready_waits_for_the_server(self):
        url = "ipc://%s/late.sock" % WORK
        with frep.Client(url, timeout=30) as c:
            with self.assertRaises(FrepError) as cm:
                c.check()
            self.assertEqual(cm.exception.name, "UNAVAILABLE")
            n = frepd_procs.Frepd(WORK, "late")
            try:
                self.assertEqual(c.check(wait_for_ready=True).status, 1)
            finally:
                self.assertEqual(n.stop(), 0, n.log())

    def test_silent_server_is_deadline_exceeded(self):
        # An SP REP peer that completes the handshake and never answers.
        path = os.path.join(WORK, "silent.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(4)
        conns = []

        def serve():
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                conns.append(conn)
                conn.sendall(b"\x00SP\x00\x00\x31\x00\x00")

        th = threading.Thread(target=serve, daemon=True)
        th.start()
        try:
            with frep.Client("ipc://" + path, timeout=0.5) as c:
                t0 = time.monotonic()
                with self.assertRaises(FrepError) as cm:
                    c.get_scope("10.1.0.0")
                took = time.monotonic() - t0
            self.assertEqual(cm.exception.name, "DEADLINE_EXCEEDED", cm.exception.message)
            self.assertGreaterEqual(took, 0.4)
            self.assertLess(took, 5)
        finally:
            srv.close()
            for conn in conns:
                conn.close()

    def test_call_ids_unique_and_nonzero(self):
        nobody = "ipc://%s/nobody.sock" % WORK
        with frep.Client(nobody) as c1, frep.Client(nobody) as c2:
            ids = [c1._next_call_id() for _ in range(1000)] + [c2._next_call_id()
                                                                for _ in range(1000)]
        self.assertNotIn(0, ids)
        self.assertEqual(len(set(ids)), len(ids))
        self.assertTrue(all(0 < i < 1 << 64 for i in ids))


class FakeRep:
    """An SP rep0 peer on a unix socket, in this process (nng's ipc framing:
    the 8-byte SP header each way, then per message a type byte 1, a 64-bit
    big-endian length and the body, whose first 4 bytes are the request id).
    It reads every request (self.methods). Modes:
    - answer nothing (what nng 1.5.2 does to a connection it strands on an
      ipc:// listener);
    - answer_pings: each Introspection/GetServerInfo at once (an empty OK),
      any other call after hold_s;
    - drop_first: the first connection is closed once a request was read;
      on the next ones every call is answered NOT_FOUND "answered on
      connection N"."""

    PING = "/frep.rpc.v1.Introspection/GetServerInfo"

    def __init__(self, path, answer_pings=False, hold_s=0.0, drop_first=False):
        self.path = path
        self.answer_pings = answer_pings
        self.hold_s = hold_s
        self.drop_first = drop_first
        self.lock = threading.Condition()
        self.methods = []  # every request read, in order
        self.eof = False  # the client closed a connection
        self.conns = []
        self.threads = []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @staticmethod
    def _read(conn, n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def _send(self, conn, head, response):
        body = head + response.SerializeToString()
        with self.lock:
            try:
                conn.sendall(b"\x01" + len(body).to_bytes(8, "big") + body)
            except OSError:
                pass

    def _accept(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
                n = len(self.conns)
            t = threading.Thread(target=self._serve, args=(conn, n), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn, n):
        try:
            self._read(conn, 8)
            conn.sendall(b"\x00SP\x00\x00\x31\x00\x00")  # rep0
            while True:
                frame = self._read(conn, 9)
                body = self._read(conn, int.from_bytes(frame[1:], "big"))
                req = frep.client._pb.envelope.Request.FromString(body[4:])
                with self.lock:
                    self.methods.append(req.method)
                    self.lock.notify_all()
                resp = frep.client._pb.envelope.Response(call_id=req.call_id)
                if self.drop_first and n == 1:
                    conn.shutdown(socket.SHUT_RDWR)
                    break
                if self.drop_first:
                    resp.code = Code.NOT_FOUND
                    resp.message = "answered on connection %d" % n
                    self._send(conn, body[:4], resp)
                elif self.answer_pings and req.method == self.PING:
                    self._send(conn, body[:4], resp)
                elif self.answer_pings:
                    threading.Timer(self.hold_s, self._send, (conn, body[:4], resp)).start()
        except (EOFError, OSError):
            pass
        with self.lock:
            self.eof = True
            self.lock.notify_all()

    def wait(self, pred, seconds):
        with self.lock:
            return self.lock.wait_for(lambda: pred(self), seconds)

    def pings(self):
        with self.lock:
            return self.methods.count(self.PING)

    def _stop_accepting(self):
        # close() alone does not wake a thread blocked in accept(); a
        # shutdown does (EINVAL).
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()

    def stop_listening(self):
        self._stop_accepting()
        os.unlink(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self._stop_accepting()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(10)
        for t in self.threads:
            t.join(10)
        for conn in conns:
            conn.close()


def held_call(c):
    """A call that changes state (AddScope), which FakeRep holds for its
    hold_s: never sent twice."""
    return c.call("/frep.v1.DhcpServer/AddScope", frep.pb.Scope(scope_id=SCOPE), frep.pb.Scope,
                  idempotent=False)


class KeepaliveTest(unittest.TestCase):
    """PROTOCOL.md §9 "Keepalive": after 5 s with no reply, a ping; with no
    answer within 10 s, the connection is closed (as the C client's,
    rpc_server_test's keepalive tests)."""

    def test_stranded_connection_is_closed(self):
        # Before: both calls waited for their whole 60 s deadline
        # (DEADLINE_EXCEEDED) on a connection nothing read.
        path = os.path.join(WORK, "stranding.sock")
        results = {}

        def run(name, fn):
            try:
                results[name] = fn()
            except FrepError as e:
                results[name] = e

        with FakeRep(path) as fake, \
                frep.Client("ipc://" + path, timeout=60, wait_for_ready=True) as c:
            reader = threading.Thread(target=run, args=(
                "reader", lambda: c.get_scope("10.77.0.0")))
            writer = threading.Thread(target=run, args=(
                "writer", lambda: c.add_scope(scope_id="10.77.0.0", subnet_mask="255.255.0.0",
                                              name="never", start_range="10.77.0.10",
                                              end_range="10.77.0.200")))
            t0 = time.monotonic()
            reader.start()
            writer.start()
            self.assertTrue(fake.wait(lambda f: len(f.methods) >= 2, 30),
                            "the two calls never reached the fake server")
            # A real frepd takes the path; the stranded connection stays.
            fake.stop_listening()
            real = frepd_procs.Frepd(WORK, "after-strand", listen="ipc://" + path)
            try:
                reader.join(70)
                writer.join(70)
                took = time.monotonic() - t0
                closed = fake.wait(lambda f: f.eof, 10)
                print("read-only call: %r\nother call: %r\nrequests on the stranded "
                      "connection: %s; closed by the client: %s; %.1f s"
                      % (results.get("reader"), results.get("writer"), fake.methods, closed,
                         took))
                # The read-only call was sent again and answered by frepd.
                self.assertIsInstance(results["reader"], frep.NotFoundError)
                self.assertIsInstance(results["writer"], frep.UnavailableError)
                self.assertIn("may or may not have run", results["writer"].message)
                self.assertTrue(closed)
                self.assertIn(FakeRep.PING, fake.methods)
                self.assertLess(took, 40)
                # The other call never reached frepd; the client works on.
                with self.assertRaises(frep.NotFoundError):
                    c.get_scope("10.77.0.0")
            finally:
                self.assertEqual(real.stop(), 0, real.log())

    def test_read_only_call_sent_again_after_a_drop(self):
        # The connection drops while each call waits. Before, nng 1.5.2
        # ended the read-only call's wait with ECONNRESET and it failed
        # UNAVAILABLE; now it is sent again (new call id) and answered on
        # the next connection. The other call fails UNAVAILABLE and is not
        # sent again.
        for name, call, want in (
                ("read-only", lambda c: c.get_scope("10.1.0.0"), frep.NotFoundError),
                ("other", lambda c: c.add_scope(scope_id="10.1.0.0", subnet_mask="255.255.0.0"),
                 frep.UnavailableError)):
            path = os.path.join(WORK, "drop-%s.sock" % name)
            with FakeRep(path, drop_first=True) as fake:
                with frep.Client("ipc://" + path, timeout=10, wait_for_ready=True) as c:
                    with self.assertRaises(want) as cm:
                        call(c)
                print("%s call: %r; requests read: %d" % (name, cm.exception, len(fake.methods)))
                if want is frep.NotFoundError:
                    self.assertEqual(cm.exception.message, "answered on connection 2")
                    self.assertEqual(len(fake.methods), 2)
                else:
                    self.assertIn("may or may not have run", cm.exception.message)
                    self.assertEqual(len(fake.methods), 1)

    def test_dropped_client_is_closed(self):
        # A Client dropped without close(): the garbage collector's
        # finalizer ends its keepalive thread and closes its connection.
        path = os.path.join(WORK, "dropped.sock")
        with FakeRep(path, answer_pings=True, hold_s=0) as fake:
            c = frep.Client("ipc://" + path, timeout=10, wait_for_ready=True)
            held_call(c)
            t = c._t
            ka = t.ka_thread
            self.assertIsNotNone(ka)
            del c
            gc.collect()
            ka.join(10)
            self.assertFalse(ka.is_alive())
            self.assertTrue(t.closed)
            self.assertTrue(fake.wait(lambda f: f.eof, 10))

    def test_idle_keepalive_thread_ends(self):
        # A client's keepalive thread ends once no call has waited for
        # 10 s; the next call starts another, which pings. Before, every
        # client kept its thread until closed: a process holding many
        # clients held as many idle threads.
        def threads():
            return sum(1 for t in threading.enumerate() if t.name == "frep-keepalive")

        path = os.path.join(WORK, "idle.sock")
        with FakeRep(path, answer_pings=True, hold_s=0) as fake:
            clients = [frep.Client("ipc://" + path, timeout=30, wait_for_ready=True)
                       for _ in range(4)]
            try:
                before = threads()
                for c in clients:
                    held_call(c)
                busy = threads()
                deadline = time.monotonic() + 30
                while threads() > before and time.monotonic() < deadline:
                    time.sleep(0.1)
                idle = threads()
                fake.hold_s = 6.5  # longer than the 5 s keepalive time
                held_call(clients[0])
                print("keepalive threads: %d before, %d after the calls, %d idle, %d pings"
                      % (before, busy, idle, fake.pings()))
                self.assertEqual(busy, before + 4)
                self.assertEqual(idle, before)
                self.assertGreaterEqual(fake.pings(), 1)
                self.assertEqual(threads(), before + 1)
            finally:
                for c in clients:
                    c.close()

    def test_slow_server_is_spared(self):
        # A call of 16.5 s (longer than 5 s + 10 s) that changes state, on a
        # server that answers the pings: not cut. Without the keepalive the
        # fake counts no ping.
        path = os.path.join(WORK, "slow.sock")
        with FakeRep(path, answer_pings=True, hold_s=16.5) as fake:
            with frep.Client("ipc://" + path, timeout=60, wait_for_ready=True) as c:
                t0 = time.monotonic()
                held_call(c)
                took = time.monotonic() - t0
            print("%.1f s, %d pings answered" % (took, fake.pings()))
            self.assertGreaterEqual(took, 16)
            self.assertIn(fake.pings(), (2, 3))


class ThreadsTest(unittest.TestCase):
    THREADS = 8
    CALLS = 200

    def test_threads_share_one_client(self):
        base = 50
        with frep.Client(A.url, timeout=60) as c:
            for t in range(self.THREADS):
                c.add_scope(scope_id="10.%d.%d.0" % (base, t), subnet_mask="255.255.255.0",
                            name="s%d" % t, start_range="10.%d.%d.1" % (base, t),
                            end_range="10.%d.%d.254" % (base, t))
            errors = []
            counts = [0] * self.THREADS
            start = threading.Barrier(self.THREADS)

            def worker(t):
                try:
                    start.wait()
                    for j in range(self.CALLS):
                        k = (t + j) % self.THREADS
                        if j % 4 == 3:
                            # A write, unique per thread and call.
                            ip = "10.%d.%d.%d" % (base, t, j // 4 + 1)
                            r = c.add_reservation(scope_id="10.%d.%d.0" % (base, t),
                                                  ip_address=ip, name="t%d-%d" % (t, j),
                                                  client_id="02-00-00-00-%02x-%02x" % (t, j))
                            got = (r.ip_address, r.name)
                            want = (ip, "t%d-%d" % (t, j))
                        elif j % 4 == 1:
                            svc = ["frep.v1.Health", ""][j % 2]
                            got = c.health.check(service=svc).status
                            want = 1
                        else:
                            s = c.get_scope("10.%d.%d.0" % (base, k))
                            got = (s.scope_id, s.name)
                            want = ("10.%d.%d.0" % (base, k), "s%d" % k)
                        if got != want:
                            errors.append("thread %d call %d: got %r, want %r"
                                          % (t, j, got, want))
                        counts[t] += 1
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append("thread %d: %r" % (t, e))

            threads = [threading.Thread(target=worker, args=(t,)) for t in range(self.THREADS)]
            t0 = time.monotonic()
            for th in threads:
                th.start()
            for th in threads:
                th.join(120)
            took = time.monotonic() - t0
            self.assertEqual(errors, [])
            self.assertEqual(counts, [self.CALLS] * self.THREADS)
            for t in range(self.THREADS):
                rs = c.list_reservations("10.%d.%d.0" % (base, t)).reservations
                self.assertEqual(len(rs), self.CALLS // 4)
            print("\n  %d threads x %d calls on one Client: %.2f s"
                  % (self.THREADS, self.CALLS, took), file=sys.stderr)


class TokenTest(unittest.TestCase):
    def test_bearer_token(self):
        tok = os.path.join(WORK, "token")
        with open(tok, "w") as f:
            f.write("s3cret-token\n")
        n = frepd_procs.Frepd(WORK, "tok", ["--token-file", tok])
        try:
            self.assertTrue(healthy(n.url))  # Health needs no token
            with frep.Client(n.url, timeout=10) as c:
                with self.assertRaises(FrepError) as cm:
                    c.list_scopes()
                self.assertEqual(cm.exception.name, "UNAUTHENTICATED")
            with frep.Client(n.url, token="wrong", timeout=10) as c:
                with self.assertRaises(FrepError) as cm:
                    c.list_scopes()
                self.assertEqual(cm.exception.code, Code.UNAUTHENTICATED)
            with frep.Client(n.url, token="s3cret-token", timeout=10) as c:
                self.assertEqual(len(c.list_scopes().scopes), 0)
        finally:
            self.assertEqual(n.stop(), 0, n.log())


class ReadmeExampleTest(unittest.TestCase):
    """The README's example is examples/replicate.py, verbatim, and runs."""

    def test_readme_example_runs(self):
        pydir = os.path.join(SOURCE_DIR, "clients", "python")
        example = os.path.join(pydir, "examples", "replicate.py")
        with open(example) as f:
            code = f.read()
        with open(os.path.join(pydir, "README.md")) as f:
            readme = f.read()
        blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
        self.assertIn(code, blocks, "README.md must include examples/replicate.py verbatim")

        c, d = frepd_procs.Frepd(WORK, "ex-a"), frepd_procs.Frepd(WORK, "ex-b")
        try:
            self.assertTrue(healthy(c.url) and healthy(d.url))
            out = subprocess.run([sys.executable, example, c.url, d.url], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=120)
            text = out.stdout.decode()
            self.assertEqual(out.returncode, 0, text)
            self.assertIn("would DIFF_ACTION_ADD reservation 10.1.0.21", text)
            self.assertIn("10.1.0.0 OK reservations added: 1", text)
            self.assertIn("on B: Office (2nd floor) ['printer', 'laptop']", text)
            self.assertIn("NOT_FOUND - scope 10.99.0.0 does not exist", text)
            da = re.search(r"digest A ([0-9a-f]{64})", text).group(1)
            self.assertIn("digest B " + da, text)
        finally:
            self.assertEqual(c.stop(), 0, c.log())
            self.assertEqual(d.stop(), 0, d.log())


if __name__ == "__main__":
    sys.exit(unittest_run.main(__name__))
