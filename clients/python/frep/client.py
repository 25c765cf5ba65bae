"""frep.Client: calls frepd over nng's REQ socket (see docs/PROTOCOL.md).

One Client holds one nng req0 socket dialing one server. Each call borrows
an (nng context, aio) pair from a pool, so any number of threads may share
a Client: their requests are pipelined on the connection and every reply
comes back to the context that sent the request. Threads block in
nng_aio_wait with the call's deadline; nothing polls. While calls wait, a
thread of the client's own pings a server that has sent no reply for 5 s
and closes a connection that does not answer (PROTOCOL.md §9, "Keepalive").
"""

import ctypes
import enum
import ipaddress
import itertools
import os
import re
import secrets
import threading
import time
import urllib.parse
import weakref

from . import _nng

_N = _nng.lib
_DEFAULT_MAX_RECV = 256 * 1024 * 1024
_SMALL_ENOUGH = 64 * 1024  # every frep server accepts this much
_UINT64 = (1 << 64) - 1
_MAX_TIMEOUT_MS = (1 << 31) - 1


_CODE_NAMES = ("OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
               "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
               "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
               "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED")

# The status codes (gRPC's numbering) as an enum: Code.NOT_FOUND == 5.
Code = enum.IntEnum("Code", [(n, i) for i, n in enumerate(_CODE_NAMES)])
Code.__doc__ = "frep.rpc.v1.Code: the status codes, gRPC's numbering (Code.NOT_FOUND == 5)."


class FrepError(Exception):
    """A call that did not return OK; the base of one class per status
    (NotFoundError, UnavailableError, ...): FrepError(Code.NOT_FOUND, msg)
    makes a NotFoundError, and `except frep.NotFoundError` catches it.

    .code is the Code (an IntEnum: gRPC's numbering), .name its name
    ("NOT_FOUND"), .message the server's text (or the client's, for
    transport failures it maps itself: UNAVAILABLE, DEADLINE_EXCEEDED, ...)."""

    code: "Code"
    name: str
    message: str

    def __new__(cls, code, message=""):
        if cls is FrepError:
            cls = _ERROR_CLASSES.get(int(code), FrepError)
        return super().__new__(cls, code, message)

    def __init__(self, code, message=""):
        n = int(code)
        self.code = Code(n) if 0 <= n < len(_CODE_NAMES) else Code.UNKNOWN
        self.name = code_name(n)
        self.message = message
        super().__init__("%s: %s" % (self.name, message))


def _error_class(code_name_):
    words = code_name_.lower().split("_")
    name = "".join(w.capitalize() for w in words) + "Error"
    return type(name, (FrepError,), {"__doc__": "FrepError with code %s." % code_name_,
                                      "__module__": __name__})


# One exception class per status code but OK, all under FrepError.
_ERROR_CLASSES = {i: _error_class(n) for i, n in enumerate(_CODE_NAMES) if i != 0}
ERRORS = {Code(i): c for i, c in _ERROR_CLASSES.items()}
globals().update({c.__name__: c for c in _ERROR_CLASSES.values()})


class ClientOptionError(ERRORS[Code.INVALID_ARGUMENT], ValueError):
    """A Client argument that cannot be used, raised by Client() before any
    connection is tried: a TLS file missing, unreadable or not PEM, a TLS
    option with a URL that has no TLS (both found before nng is called), a
    URL nng does not take. Both a
    frep.InvalidArgumentError (code INVALID_ARGUMENT) and a ValueError; the
    message names the option and its value."""

    def __new__(cls, message):
        return super().__new__(cls, Code.INVALID_ARGUMENT, message)

    def __init__(self, message):
        super().__init__(Code.INVALID_ARGUMENT, message)


def code_name(code):
    return _CODE_NAMES[code] if 0 <= code < len(_CODE_NAMES) else "UNKNOWN"


def snake_case(name):
    """"ReplicateByName" -> "replicate_by_name", "DhcpServer" -> "dhcp_server"."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# --- TLS ------------------------------------------------------------------

_TLS_OPTIONS = ("tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name")
_PEM_MAX_BYTES = 1024 * 1024  # as the C client reads


def _url_has_tls(url):
    """tls+tcp://, tls+tcp4://, tls+tcp6://, wss://, wss4://, wss6:// (as
    the C client tells them: "tls+" or "wss")."""
    scheme = url.partition("://")[0].lower()
    return scheme.startswith("tls+") or scheme in ("wss", "wss4", "wss6")


def _path(option, value):
    try:
        return os.fspath(value)
    except TypeError:
        raise ClientOptionError("%s must be a path (str or os.PathLike), not %s"
                                % (option, type(value).__name__)) from None


def _read_pem(option, path):
    """The file's bytes and a NUL, in a bytearray the caller wipes; raises
    ClientOptionError naming the option and path."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > _PEM_MAX_BYTES:
                raise ClientOptionError("%s %r: %d bytes, larger than a PEM file can be here "
                                        "(%d)" % (option, os.fsdecode(path), size, _PEM_MAX_BYTES))
            buf = bytearray(size + 1)  # the last byte stays 0: nng takes C strings
            n = f.readinto(memoryview(buf)[:size])
    except OSError as e:
        raise ClientOptionError("%s %r: %s" % (option, os.fsdecode(path), e.strerror or e)) \
            from None
    if n == 0:
        raise ClientOptionError("%s %r: the file is empty" % (option, os.fsdecode(path)))
    return buf


def _ip_name_hint(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return ""
    return (" (nng's TLS, mbedtls 2, checks DNS names only, not IP addresses: give "
            "tls_server_name, a DNS name of the certificate)")


def _tls_config(url, tls_ca_file=None, tls_cert_file=None, tls_key_file=None,
                tls_server_name=None):
    """(config, CA, name): the client's nng_tls_config for a TLS URL, the CA
    file it trusts and the server name it checks, for messages; (None, None,
    None) for a URL without TLS (which must then come with no TLS option).
    The server is always verified (NNG_TLS_AUTH_MODE_REQUIRED): against
    tls_ca_file, or the system's CA bundle without it; its name against
    tls_server_name, or the URL's host. Raises ClientOptionError, naming the
    option, before anything is opened. The caller owns the config
    (nng_tls_config_free)."""
    given = [n for n, v in zip(_TLS_OPTIONS, (tls_ca_file, tls_cert_file, tls_key_file,
                                              tls_server_name)) if v is not None]
    if not _url_has_tls(url):
        if given:
            raise ClientOptionError("%s given, but %s has no TLS (TLS URLs: tls+tcp://, wss://)"
                                    % (" and ".join(given), url))
        return None, None, None
    if tls_key_file is not None and tls_cert_file is None:
        raise ClientOptionError("tls_key_file given without tls_cert_file")
    if tls_server_name is None:
        host = urllib.parse.urlsplit(url).hostname
        if not host:
            raise ClientOptionError("server URL %s has no host to verify the server's "
                                    "certificate against; give tls_server_name" % url)
        server_name = host
    elif not isinstance(tls_server_name, str) or not tls_server_name:
        raise ClientOptionError("tls_server_name must be a non-empty str, not %r"
                                % (tls_server_name,))
    else:
        server_name = tls_server_name
    if tls_ca_file is not None:
        ca_option, ca = "tls_ca_file", _path("tls_ca_file", tls_ca_file)
    else:
        import ssl  # here: only TLS clients without a CA need it
        ca_option, ca = "the system CA bundle", ssl.get_default_verify_paths().cafile
        if ca is None:
            raise ClientOptionError("%s: no tls_ca_file, and no system CA bundle to verify the "
                                    "server with (give tls_ca_file)" % url)
    # Read here first: a missing or unreadable file is named with its
    # option, before nng sees it.
    _read_pem(ca_option, ca)
    cert = key = None
    if tls_cert_file is not None:
        cert_path = _path("tls_cert_file", tls_cert_file)
        key_option, key_path = "tls_cert_file", cert_path  # one file with both, as in C
        if tls_key_file is not None:
            key_option, key_path = "tls_key_file", _path("tls_key_file", tls_key_file)
        cert = _read_pem("tls_cert_file", cert_path)
        key = _read_pem(key_option, key_path)

    cfg = ctypes.c_void_p()
    try:
        rv = _N.nng_tls_config_alloc(ctypes.byref(cfg), _nng.TLS_MODE_CLIENT)
        if rv != 0:
            cfg = None
            raise FrepError(Code.UNIMPLEMENTED if rv == _nng.ENOTSUP else Code.INTERNAL,
                            "TLS: %s (nng's TLS engine: %s)"
                            % (_nng.strerror(rv), _N.nng_tls_engine_name().decode()))
        rv = _N.nng_tls_config_auth_mode(cfg, _nng.TLS_AUTH_MODE_REQUIRED)
        if rv != 0:
            raise FrepError(Code.INTERNAL, "TLS auth mode: %s" % _nng.strerror(rv))
        rv = _N.nng_tls_config_ca_file(cfg, os.fsencode(ca))
        if rv != 0:
            raise ClientOptionError("%s %r: no CA certificate nng can use (%s)"
                                    % (ca_option, os.fsdecode(ca), _nng.strerror(rv)))
        rv = _N.nng_tls_config_server_name(cfg, server_name.encode())
        if rv != 0:
            raise ClientOptionError("tls_server_name %r: %s" % (server_name, _nng.strerror(rv)))
        if cert is not None:
            c = (ctypes.c_char * len(cert)).from_buffer(cert)
            k = (ctypes.c_char * len(key)).from_buffer(key)
            rv = _N.nng_tls_config_own_cert(cfg, c, k, None)
            del c, k
            if rv != 0:
                raise ClientOptionError(
                    "tls_cert_file %r, %s %r: not a PEM certificate and unencrypted private "
                    "key nng can use (%s)" % (os.fsdecode(cert_path), key_option,
                                              os.fsdecode(key_path), _nng.strerror(rv)))
    except BaseException:
        if cfg is not None:
            _N.nng_tls_config_free(cfg)
        raise
    finally:
        for buf in (cert, key):
            if buf is not None:
                buf[:] = bytes(len(buf))  # nng copied what it needed
    return cfg, "%s %s" % (ca_option, os.fsdecode(ca)), server_name


class _Slot:
    """One nng context and its aio: one call at a time."""

    __slots__ = ("ctx", "aio")

    def __init__(self, sock):
        self.aio = ctypes.c_void_p()
        rv = _N.nng_aio_alloc(ctypes.byref(self.aio), None, None)
        if rv != 0:
            raise FrepError(Code.RESOURCE_EXHAUSTED, "nng_aio_alloc: " + _nng.strerror(rv))
        self.ctx = _nng.Ctx()
        rv = _N.nng_ctx_open(ctypes.byref(self.ctx), sock)
        if rv != 0:
            _N.nng_aio_free(self.aio)
            raise FrepError(Code.CANCELLED if rv == _nng.ECLOSED else Code.INTERNAL,
                            "nng_ctx_open: " + _nng.strerror(rv))

    def free(self):
        # The aio before its context: nng_aio_free (unlike nng_aio_stop)
        # waits until nng's timeout thread is done with the aio, and that
        # thread may be about to run the context's cancel on it
        # (req0_ctx_cancel_send), which must find the context and its
        # socket alive.
        _N.nng_aio_free(self.aio)
        _N.nng_ctx_close(self.ctx)


class _Inflight:
    __slots__ = ("aio", "idempotent", "sent", "sent_at", "lost", "cancelled", "send_lock")

    def __init__(self, aio, idempotent):
        self.aio = aio
        self.idempotent = idempotent
        self.sent = False
        self.sent_at = 0  # _now_ms() when sent (the keepalive looks at it)
        self.lost = False
        self.cancelled = False  # by close(), before the request was sent
        # Orders a send's start and its end (sent) against close()'s cancel.
        self.send_lock = threading.Lock()


class _Transport:
    """The nng side of a Client. Kept apart from the Client so that a
    weakref finalizer can close it when the Client is dropped unclosed."""

    def __init__(self, url, max_recv_bytes, wait_for_ready=False, tls_options=None,
                 ping_request=None):
        self.url = url
        # Keepalive (_keepalive_main): ping_request() makes the bytes of one
        # Introspection/GetServerInfo envelope; None: no keepalive.
        self.ping_request = ping_request
        self.live = []  # ids of the socket's connections (pipes)
        self.answered = 0  # _now_ms() of the last reply to any call
        self.pinged = 0  # _now_ms() when the last ping ended
        self.ping_aio = None  # the ping's aio while one is in progress
        self.ka_thread = None
        self.ka_idle = False
        self.wait_for_ready = wait_for_ready
        self._redialed = 0
        self.lock = threading.Lock()
        # Held while a dialer is replaced or the socket closed: a redial
        # never starts a dialer with a TLS config close() has freed.
        self.dial_lock = threading.Lock()
        self.slot_back = threading.Condition(self.lock)  # close() waits for slots in use
        self.ka_cv = threading.Condition(self.lock)  # wakes the keepalive thread
        self.closed = False
        self.released = False  # close() is done with the pool: late slots free themselves
        self.pipes = 0
        self.inflight = set()
        self.free_slots = []
        self.all_slots = []
        self.server_max = 0  # learnt from GetServerInfo; 0 = unknown
        self.opened = False
        self.dialer = None
        # Options and files checked before anything is opened; owned until
        # close(), after the socket (and its dialers) are gone.
        self.tls, self.tls_ca, self.tls_name = _tls_config(url, **(tls_options or {}))
        self.sock = _nng.Socket()
        rv = _N.nng_req0_open(ctypes.byref(self.sock))
        if rv != 0:
            self.close()
            raise FrepError(Code.INTERNAL, "req0 socket: " + _nng.strerror(rv))
        self.opened = True
        # No timed resend: a slow call must not run twice. Set before any
        # context is opened, which copies it.
        _N.nng_socket_set_ms(self.sock, _nng.OPT_REQ_RESENDTIME, _nng.DURATION_INFINITE)
        _N.nng_socket_set_size(self.sock, _nng.OPT_RECVMAXSZ, max_recv_bytes)
        _N.nng_socket_set_ms(self.sock, _nng.OPT_RECONNMINT, 20)
        _N.nng_socket_set_ms(self.sock, _nng.OPT_RECONNMAXT, 1000)
        self._cb = _nng.PIPE_CB(self._pipe_event)  # kept alive as long as the socket
        _N.nng_pipe_notify(self.sock, _nng.PIPE_EV_ADD_POST, self._cb, None)
        _N.nng_pipe_notify(self.sock, _nng.PIPE_EV_REM_POST, self._cb, None)
        self.dialer, rv = self._dialer_start()
        if rv != 0:
            self.close()
            raise ClientOptionError('server URL "%s": %s' % (url, _nng.strerror(rv)))

    def _dialer_start(self):
        """A new dialer for the URL, given the TLS config before it starts
        (as the C client does): (dialer, 0), or (None, nng's error)."""
        d = _nng.Dialer()
        rv = _N.nng_dialer_create(ctypes.byref(d), self.sock, self.url.encode())
        if rv != 0:
            return None, rv
        if self.tls is not None:
            rv = _N.nng_dialer_set_ptr(d, _nng.OPT_TLS_CONFIG, self.tls)
        if rv == 0:
            rv = _N.nng_dialer_start(d, _nng.FLAG_NONBLOCK)
        if rv != 0:
            _N.nng_dialer_close(d)
            return None, rv
        return d, 0

    def _pipe_event(self, _pipe, ev, _arg):
        # Runs on an nng thread. Never calls back into nng except
        # nng_aio_cancel, as the C client does.
        with self.lock:
            if ev == _nng.PIPE_EV_ADD_POST:
                self.pipes += 1
                self.live.append(_pipe.id)
            elif ev == _nng.PIPE_EV_REM_POST:
                self.pipes = max(0, self.pipes - 1)
                if self.pipes == 0:
                    # The dialer redials by itself now: a call sent again
                    # at once must not close it mid-handshake (_redial).
                    self._redialed = _now_ms()
                if _pipe.id in self.live:
                    self.live.remove(_pipe.id)
                self.server_max = 0  # the next server may have other limits
                # A state-changing request must not be resent to whatever
                # comes next (nng would resend it at once): fail it.
                for f in self.inflight:
                    if not f.idempotent and f.sent:
                        f.lost = True
                        _N.nng_aio_cancel(f.aio)

    def connected(self):
        with self.lock:
            return self.pipes > 0

    def slot_get(self):
        with self.lock:
            if self.closed:
                raise FrepError(Code.CANCELLED, "client closed")
            if self.free_slots:
                return self.free_slots.pop()
        s = _Slot(self.sock)
        with self.lock:
            if not self.closed:
                self.all_slots.append(s)
                return s
        s.free()  # close() came meanwhile: this aio never ran
        raise FrepError(Code.CANCELLED, "client closed")

    def slot_put(self, s):
        with self.lock:
            if not self.released:
                self.free_slots.append(s)
                self.slot_back.notify_all()
                return
            # close() stopped waiting for this call: the last one back
            # closes the socket.
            self.all_slots.remove(s)
            last = not self.all_slots
        s.free()
        if last:
            self._close_socket()

    def close(self):
        """Closes the connection. Calls not yet sent end at once with
        CANCELLED; calls already sent get their reply for up to
        _CLOSE_DRAIN_S, then end with CANCELLED too. Then frees, in the
        order nng needs: every aio, the socket with its contexts and
        dialers, the TLS config.

        Why wait for replies: nng 1.5.2 can hang for ever in nng_close when
        a pipe is closed while a message arrives on it (seen here: its
        reaper waits in the req protocol's pipe stop for an aio no one
        finishes; most likely nanomsg/nng#1636, fixed in nng 1.6). Only
        replies to requests already sent can arrive, so none is left in
        flight when the socket is closed, unless a call outlives the wait.
        (Closed while 8 threads called, 30 times over tls+tcp://: without
        the wait, 3 runs out of 3 hung; with it, none, nor 900 rounds on
        tcp:// and tls+tcp://. python_tls_test,
        test_tls_close_with_calls_in_flight.)"""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            slots = list(self.all_slots)
            unsent = [f for f in self.inflight if not f.sent]
            # The keepalive's ping is started under self.lock after a look
            # at self.closed, so this cancel cannot fall between two of
            # its operations.
            if self.ping_aio is not None:
                _N.nng_aio_cancel(self.ping_aio)
            self.ka_cv.notify_all()
            ka = self.ka_thread
        for f in unsent:
            with f.send_lock:
                if not f.sent:
                    f.cancelled = True
                    _N.nng_aio_cancel(f.aio)
        if ka is not None and ka is not threading.current_thread():
            ka.join()  # before any slot or pipe it may use is freed
        if not self._slots_back(_CLOSE_DRAIN_S):
            # Still waiting after the drain: stop them (their replies may
            # yet arrive on a closing pipe; nothing better is possible).
            for s in slots:
                _N.nng_aio_stop(s.aio)
            self._slots_back(_CLOSE_WAIT_S)
        with self.lock:
            free, self.free_slots = self.free_slots, []
            self.all_slots = [s for s in self.all_slots if s not in free]
            self.released = True
            late = len(self.all_slots)
        # The aios go before the socket. nng 1.5.2's timeout thread can hold
        # an aio whose operation just completed, about to run the req
        # context's cancel on it; nng_aio_free waits for that, and the
        # cancel must find the socket alive. Closed first, the socket's
        # mutex was freed under it ("panic: pthread_mutex_lock: Invalid
        # argument" in req0_ctx_cancel_send; frep_client_close had the same
        # bug, docs/TESTS.md "Known gaps").
        for s in free:
            s.free()
        if not late:
            self._close_socket()

    def _slots_back(self, seconds):
        """Waits up to `seconds` for every slot to be handed back; True if
        they all are."""
        end = time.monotonic() + seconds
        with self.lock:
            while len(self.free_slots) < len(self.all_slots):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.slot_back.wait(left)
            return True

    def _close_socket(self):
        """The socket with its contexts and dialers, then the TLS config
        they were given; under dial_lock, so no redial is half-way."""
        with self.dial_lock:
            if self.opened:
                _N.nng_close(self.sock)
                self.opened = False
            if self.tls is not None:
                _N.nng_tls_config_free(self.tls)
                self.tls = None

    def _map(self, rv, phase, timeout_ms, lost):
        if self.closed and rv in (_nng.ECANCELED, _nng.ECLOSED):
            return FrepError(Code.CANCELLED, "client closed")
        if rv == _nng.ETIMEDOUT:
            if not self.connected():
                return FrepError(Code.UNAVAILABLE, "no connection to %s within the deadline of "
                                 "%d ms" % (self.url, timeout_ms))
            return FrepError(Code.DEADLINE_EXCEEDED, "no reply from %s within the deadline of "
                             "%d ms (%s)" % (self.url, timeout_ms, phase))
        if rv in (_nng.ECONNRESET, _nng.ECONNSHUT, _nng.ECONNABORTED, _nng.ECANCELED):
            dropped = rv != _nng.ECANCELED
            if dropped and phase == "waiting for":
                lost = True
            if lost:
                e = FrepError(Code.UNAVAILABLE, "connection to %s lost during the call; it "
                              "may or may not have run" % self.url)
            else:
                e = FrepError(Code.CANCELLED, "call to %s cancelled" % self.url)
            # The connection went: Client._invoke sends a read-only call again.
            e._conn_lost = dropped or lost
            return e
        if rv == _nng.ECLOSED:
            return FrepError(Code.CANCELLED, "client closed")
        if rv == _nng.ENOMEM:
            return FrepError(Code.RESOURCE_EXHAUSTED, "out of memory")
        if rv == _nng.EMSGSIZE:
            return FrepError(Code.RESOURCE_EXHAUSTED,
                             "reply from %s larger than this client accepts" % self.url)
        return FrepError(Code.UNAVAILABLE, "%s %s: %s (nng error %d)"
                         % (phase, self.url, _nng.strerror(rv), rv))

    def _dial_errors(self):
        return _nng.dialer_errors(_N.nng_dialer_id(self.dialer))

    def _redial(self):
        """A fresh dialer that tries at once (the old one may be in its
        reconnect backoff, up to a second, after a server restart)."""
        with self.dial_lock:
            with self.lock:
                if (self.pipes > 0 or self.closed
                        or _now_ms() - self._redialed < _REDIAL_GAP_MS):
                    return
                self._redialed = _now_ms()
                old = self.dialer
            # Closed without self.lock: closing waits for the dialer's pipe
            # callbacks, and _pipe_event takes self.lock (the C client
            # deadlocked so: redial_after in clients/frep_client.c).
            _N.nng_dialer_close(old)
            d, rv = self._dialer_start()
            if rv == 0:
                with self.lock:
                    self.dialer = d

    def _fail_fast(self, base, path, waited_ms):
        """Without wait_for_ready: the error to raise once the dialer has
        failed a connection attempt since `base`, or after _FAIL_FAST_MS
        without a connection; None to keep waiting."""
        if self.connected():
            return None  # a connection came: the send is queued behind others
        now = self._dial_errors()
        if now is not None and base is not None:
            if now[0] > base[0]:
                return FrepError(Code.UNAVAILABLE, "%s: connection refused by %s (nothing "
                                 "listens there; wait_for_ready waits for it)" % (path, self.url))
            if now[1] > base[1]:
                if self.tls is not None:
                    # A frepd with --tls-ca closes the handshake of a client
                    # without a certificate (or with a key that is not the
                    # certificate's): nng counts it here.
                    return FrepError(Code.UNAVAILABLE, "%s: cannot connect to %s (no route to "
                                     "it, or it closed the TLS handshake: a server with a CA "
                                     "for clients wants tls_cert_file and tls_key_file it "
                                     "accepts)" % (path, self.url))
                return FrepError(Code.UNAVAILABLE, "%s: cannot connect to %s (no route to it, "
                                 "or another network error)" % (path, self.url))
            if self.tls is not None and now[3] > base[3]:
                return FrepError(Code.UNAVAILABLE, "%s: TLS handshake with %s failed: its "
                                 "certificate is not signed by a CA of %s or not issued to "
                                 "\"%s\" (tls_server_name), or it refused this client's "
                                 "certificate, or it does not speak TLS"
                                 % (path, self.url, self.tls_ca, self.tls_name)
                                 + _ip_name_hint(self.tls_name))
            if now[2] > base[2]:
                return FrepError(Code.UNAVAILABLE, "%s: %s refused the connection's handshake "
                                 "(not a frep server, or TLS failed)" % (path, self.url))
        if waited_ms >= _FAIL_FAST_MS:
            return FrepError(Code.UNAVAILABLE, "%s: no connection to %s within %d ms "
                             "(wait_for_ready waits up to the deadline)"
                             % (path, self.url, waited_ms))
        return None

    def roundtrip(self, data, timeout_ms, idempotent, path="", wait_for_ready=None):
        """Sends one envelope and returns the reply's bytes, or raises FrepError.
        Without wait_for_ready (the client's default unless given) a call
        that finds no connection fails fast with UNAVAILABLE."""
        wait = self.wait_for_ready if wait_for_ready is None else wait_for_ready
        msg = _nng.msg_from_bytes(data)
        if msg is None:
            raise FrepError(Code.RESOURCE_EXHAUSTED, "out of memory")
        try:
            s = self.slot_get()
        except BaseException:
            _N.nng_msg_free(msg)
            raise
        fl = _Inflight(s.aio, idempotent)
        with self.lock:
            closed = self.closed
            if not closed:
                self.inflight.add(fl)
        if closed:  # close() came after slot_get
            _N.nng_msg_free(msg)
            self.slot_put(s)
            raise FrepError(Code.CANCELLED, "client closed")
        try:
            start = _now_ms()
            deadline = start + timeout_ms
            base = None
            kicked = False
            while True:
                left = max(1, deadline - _now_ms())
                step = left if wait or self.connected() else min(left, _FAIL_FAST_STEP_MS)
                _N.nng_aio_set_timeout(s.aio, step)
                with fl.send_lock:
                    if fl.cancelled:
                        _N.nng_msg_free(msg)
                        raise FrepError(Code.CANCELLED, "client closed")
                    _N.nng_aio_set_msg(s.aio, msg)
                    _N.nng_ctx_send(s.ctx, s.aio)
                _N.nng_aio_wait(s.aio)
                rv = _N.nng_aio_result(s.aio)
                if rv != _nng.ETIMEDOUT or step == left or wait:
                    break
                msg = _N.nng_aio_get_msg(s.aio)  # still ours after a failed send
                _N.nng_aio_set_msg(s.aio, None)
                if not kicked:
                    # Only a dialer that has failed before (in reconnect
                    # backoff) is replaced: one that never failed may be
                    # mid-handshake, and closing it then breaks nng 1.5.2's
                    # ipc listeners (nanomsg/nng#1518).
                    base = self._dial_errors()
                    if base is not None and sum(base) > 0:
                        self._redial()
                        base = self._dial_errors()
                    kicked = True
                    continue
                err = self._fail_fast(base, path, _now_ms() - start)
                if err is not None:
                    _N.nng_msg_free(msg)
                    raise err
            if rv != 0:
                # On failure the message is still ours.
                _N.nng_msg_free(_N.nng_aio_get_msg(s.aio))
                _N.nng_aio_set_msg(s.aio, None)
                raise self._map(rv, "sending to", timeout_ms, False)
            with fl.send_lock, self.lock:
                fl.sent = True  # close() now waits for the reply (see close)
                fl.sent_at = _now_ms()
                self._keepalive_kick()
            left = deadline - _now_ms()
            _N.nng_aio_set_timeout(s.aio, max(1, left))
            _N.nng_ctx_recv(s.ctx, s.aio)
            _N.nng_aio_wait(s.aio)
            rv = _N.nng_aio_result(s.aio)
            with self.lock:
                self.inflight.discard(fl)
                if rv == 0:
                    self.answered = _now_ms()  # the connection is alive
            if rv != 0:
                raise self._map(rv, "waiting for", timeout_ms, fl.lost)
            reply = _N.nng_aio_get_msg(s.aio)
            _N.nng_aio_set_msg(s.aio, None)
            return _nng.msg_take_bytes(reply)
        finally:
            with self.lock:
                self.inflight.discard(fl)
            self.slot_put(s)


    # --- keepalive (PROTOCOL.md §9, "Keepalive"; as the C client's) ---

    def _keepalive_kick(self):
        """With self.lock held, once a call has been sent: starts the
        keepalive thread (when none runs: the first call, or the first
        after it ended idle) or wakes it if it waits for calls."""
        if self.ping_request is None or self.closed:
            return
        if self.ka_thread is None:
            t = threading.Thread(target=self._keepalive_main, name="frep-keepalive",
                                 daemon=True)
            try:
                t.start()
            except RuntimeError:  # no thread to be had: the next call tries again (as in C)
                return
            self.ka_thread = t
        elif self.ka_idle:
            self.ka_idle = False
            self.ka_cv.notify()

    def _keepalive_main(self):
        """The keepalive thread, as gRPC's KEEPALIVE_TIME / KEEPALIVE_TIMEOUT
        but only while a call waits for its reply. Once a second it looks at
        the oldest waiting call: when it has waited _KEEPALIVE_TIME_MS, no
        call has had a reply for as long, and the last ping is as old, it
        pings the server (Introspection/GetServerInfo, answered on the
        server's I/O thread even when every worker is busy). With no answer
        within _KEEPALIVE_TIMEOUT_MS, and no reply to any other call in
        that time, it closes the connections; the calls on them end as for
        any dropped connection: a read-only one is sent again on the next
        connection (Client._invoke), any other fails UNAVAILABLE ("may or
        may not have run"). What it catches: a connection whose server never
        reads it (nng 1.5.2 can strand one on an ipc:// listener, the
        nanomsg/nng#1518 family; a server frozen, or gone without a reset).
        It ends after _KEEPALIVE_IDLE_EXIT_MS with no call waiting."""
        idle_since = None
        with self.lock:
            while not self.closed:
                now = _now_ms()
                sent = [f.sent_at for f in self.inflight if f.sent]
                if not sent:
                    if idle_since is None:
                        idle_since = now
                    elif now - idle_since >= _KEEPALIVE_IDLE_EXIT_MS:
                        self.ka_thread = None  # the next call sent starts another
                        return
                    self.ka_idle = True  # the next call sent wakes it
                    self.ka_cv.wait((_KEEPALIVE_IDLE_EXIT_MS - (now - idle_since)) / 1000.0)
                    self.ka_idle = False
                    continue
                idle_since = None
                if (self.pipes > 0 and now - min(sent) >= _KEEPALIVE_TIME_MS
                        and now - self.answered >= _KEEPALIVE_TIME_MS
                        and now - self.pinged >= _KEEPALIVE_TIME_MS):
                    self.lock.release()
                    try:
                        rv = self._ping()
                    finally:
                        self.lock.acquire()
                    self.pinged = _now_ms()  # the next ping a whole time later
                    if rv == 0:
                        self.answered = self.pinged
                    elif rv == _nng.ETIMEDOUT and not self.closed and self.answered <= now:
                        # No answer, and no reply to any other call since
                        # the ping went out (a server whose contexts are all
                        # busy reads nothing new for a while, but still
                        # answers the calls it holds): the connection is
                        # dead. Closed without self.lock: _pipe_event takes it.
                        dead = list(self.live)
                        self.lock.release()
                        try:
                            for pid in dead:
                                _N.nng_pipe_close(_nng.Pipe(pid))
                        finally:
                            self.lock.acquire()
                    continue
                self.ka_cv.wait(_KEEPALIVE_TICK_S)

    def _ping(self):
        """One keepalive ping over the socket, whose only connection is
        normally the one the waiting calls were sent on. 0: answered (any
        status); ETIMEDOUT: sent, and no answer within _KEEPALIVE_TIMEOUT_MS;
        anything else (not sent: no connection, or one too busy writing to
        take it) says nothing of the connection."""
        try:
            s = self.slot_get()
        except FrepError:
            return _nng.ECLOSED
        try:
            msg = _nng.msg_from_bytes(self.ping_request())
            if msg is None:
                return _nng.ENOMEM
            # Each operation starts under self.lock after a look at
            # self.closed, so close()'s cancel of ping_aio is never lost.
            _N.nng_aio_set_timeout(s.aio, _KEEPALIVE_TIMEOUT_MS)
            _N.nng_aio_set_msg(s.aio, msg)
            with self.lock:
                if self.closed:
                    _N.nng_aio_set_msg(s.aio, None)
                    _N.nng_msg_free(msg)
                    return _nng.ECLOSED
                self.ping_aio = s.aio
                _N.nng_ctx_send(s.ctx, s.aio)
            _N.nng_aio_wait(s.aio)
            rv = _N.nng_aio_result(s.aio)
            if rv != 0:
                _N.nng_msg_free(_N.nng_aio_get_msg(s.aio))  # still ours
                _N.nng_aio_set_msg(s.aio, None)
                return _nng.EBUSY if rv == _nng.ETIMEDOUT else rv
            _N.nng_aio_set_timeout(s.aio, _KEEPALIVE_TIMEOUT_MS)  # sent: the whole time
            with self.lock:
                if self.closed:
                    return _nng.ECLOSED
                _N.nng_ctx_recv(s.ctx, s.aio)
            _N.nng_aio_wait(s.aio)
            rv = _N.nng_aio_result(s.aio)
            if rv == 0:
                _N.nng_msg_free(_N.nng_aio_get_msg(s.aio))
                _N.nng_aio_set_msg(s.aio, None)
            return rv
        finally:
            with self.lock:
                self.ping_aio = None
            self.slot_put(s)


_FAIL_FAST_MS = 1000
# Keepalive (PROTOCOL.md §9), the C client's figures: a ping after a call
# has waited 5 s with no reply on any call for as long; no answer in 10 s
# closes the connection. Waiting calls are looked at once a second.
_KEEPALIVE_TIME_MS = 5000
_KEEPALIVE_TIMEOUT_MS = 10000
_KEEPALIVE_TICK_S = 1.0
# The keepalive thread ends after this long with no call waiting; the next
# call sent starts another (a process holding many clients keeps no thread
# for the idle ones).
_KEEPALIVE_IDLE_EXIT_MS = 10000
_KEEPALIVE_METHOD = "/frep.rpc.v1.Introspection/GetServerInfo"
_FAIL_FAST_STEP_MS = 50
# _redial: at most once a second, and not within a second of losing the
# last connection (as the C client's redial_after).
_REDIAL_GAP_MS = 1000
_CLOSE_DRAIN_S = 2.0  # close(): for calls already sent to get their replies
_CLOSE_WAIT_S = 2.0  # close(): for calls to end once their aios are stopped


def _now_ms():
    return int(time.monotonic() * 1000)


def _ping_request(call_base, counter):
    """The keepalive's ping maker: each call gives the bytes of a
    GetServerInfo envelope with the next call id of the client (made from
    its base and counter, not the Client: the transport must not keep the
    Client alive)."""

    def make():
        env = _pb.envelope.Request()
        env.method = _KEEPALIVE_METHOD
        env.timeout_ms = _KEEPALIVE_TIMEOUT_MS
        while True:
            env.call_id = (call_base + next(counter)) & _UINT64
            if env.call_id != 0:
                return env.SerializeToString()

    return make


def _close_transport(t):
    """The Client's finalizer (weakref.finalize) when it was not closed: run
    at exit, or by the garbage collector on whatever thread was allocating,
    which may be one holding t.lock (a call's, the keepalive thread, an nng
    callback's). t.lock is not re-entrant: a close on that thread would wait
    for itself for ever, so while the lock is taken the close goes to a
    thread of its own. (Client.close() closes directly.)"""
    if t.lock.acquire(blocking=False):
        t.lock.release()
        t.close()
        return
    try:
        threading.Thread(target=t.close, name="frep-close", daemon=True).start()
    except RuntimeError:  # interpreter shutdown: no new threads
        pass


class _Method:
    """One RPC: its path, types and whether it is read-only."""

    def __init__(self, method_desc, classes):
        self.name = method_desc.name
        self.path = "/%s/%s" % (method_desc.containing_service.full_name, method_desc.name)
        self.input = classes[method_desc.input_type.full_name]
        self.output = classes[method_desc.output_type.full_name]
        opts = method_desc.GetOptions()
        # NO_SIDE_EFFECTS (1): the contract's read-only methods (PROTOCOL.md §4).
        self.idempotent = opts.HasField("idempotency_level") and opts.idempotency_level == 1
        self.fields = [f.name for f in method_desc.input_type.fields]

    def request(self, args, fields):
        if len(args) == 1 and isinstance(args[0], self.input) and not fields:
            return args[0]
        if args and isinstance(args[0], self.input):
            raise TypeError("%s: pass a %s or keyword arguments, not both"
                            % (self.name, self.input.DESCRIPTOR.full_name))
        if len(args) > len(self.fields):
            raise TypeError("%s takes at most %d positional arguments (%s)"
                            % (self.name, len(self.fields), ", ".join(self.fields)))
        for name, value in zip(self.fields, args):
            if name in fields:
                raise TypeError("%s: %s given twice" % (self.name, name))
            fields[name] = value
        return self.input(**fields)


def _make_stub(method):
    def rpc(self, *args, timeout=None, metadata=None, wait_for_ready=None, **fields):
        req = method.request(args, fields)
        return self._client._invoke(method, req, timeout, metadata, wait_for_ready)

    rpc.__name__ = snake_case(method.name)
    rpc.__qualname__ = rpc.__name__
    rpc.__doc__ = ("%s(%s) -> %s\n\nCalls %s. Pass a %s, its fields as keyword arguments, or "
                   "its fields positionally in declaration order. Raises FrepError."
                   % (rpc.__name__, ", ".join(method.fields), method.output.DESCRIPTOR.full_name,
                      method.path, method.input.DESCRIPTOR.full_name))
    return rpc


class _ServiceBase:
    def __init__(self, client):
        self._client = client


class Client:
    """A connection to one frep server.

    Client(url, token=None, timeout=30.0, max_recv_bytes=256 MiB, wait_for_ready=False, *,
           tls_ca_file=None, tls_cert_file=None, tls_key_file=None, tls_server_name=None)

    - url: the server's nng URL (tcp://, ipc://, ws://, tls+tcp://, wss://).
      The client dials in the background and redials after a drop. A call
      made while not connected fails fast with UNAVAILABLE ("connection
      refused by ...", or after about a second when nothing answers).
    - wait_for_ready: calls wait for a connection up to their deadline
      instead (gRPC's wait-for-ready); each call may also pass
      wait_for_ready=True or False.
    - token: the admin token; sent as `authorization: Bearer <token>`.
    - timeout: default deadline of every call, in seconds (sent to the
      server as timeout_ms, and the client stops waiting then).
    - tls_ca_file: for tls+tcp:// and wss://, the PEM CA bundle the server's
      certificate must chain to; without it, the system's CA bundle. The
      server is always verified (unlike the C client without a CA).
    - tls_server_name: the name the server's certificate must carry
      (default: the URL's host; nng's TLS, mbedtls 2, matches DNS names,
      so give tls_server_name="localhost" for tls+tcp://127.0.0.1:PORT).
    - tls_cert_file, tls_key_file: a PEM client certificate and its
      unencrypted key, for servers that ask for one (frepd --tls-ca); the
      key may be in the certificate's file (tls_key_file omitted).
      The TLS options are refused with a URL without TLS, and a file that
      is missing, unreadable or not PEM is refused before anything is
      opened: both raise ClientOptionError (an InvalidArgumentError and a
      ValueError) naming the option and the path.

    Each service of the contract is an attribute (client.dhcp_server,
    client.failover_replication, client.health, client.introspection,
    client.partner, ...) with one snake_case method per RPC, made from the
    service descriptors. Every method except Partner's is also a method of
    the Client itself: client.add_scope(...) is client.dhcp_server.add_scope(...).

    Thread-safe: share one Client between threads. Use it as a context
    manager, or call close().
    """

    _services = {}  # attribute name -> service class, filled by _install()
    _flat = {}

    def __init__(self, url, token=None, timeout=30.0, max_recv_bytes=_DEFAULT_MAX_RECV,
                 wait_for_ready=False, *, tls_ca_file=None, tls_cert_file=None,
                 tls_key_file=None, tls_server_name=None):
        self.url = url
        self.timeout = float(timeout)
        self._auth = None if token is None else ("authorization", "Bearer " + token)
        self._call_base = secrets.randbits(64)
        self._counter = itertools.count(1)
        tls = {"tls_ca_file": tls_ca_file, "tls_cert_file": tls_cert_file,
               "tls_key_file": tls_key_file, "tls_server_name": tls_server_name}
        self._t = _Transport(url, max_recv_bytes, wait_for_ready, tls,
                             _ping_request(self._call_base, self._counter))
        self._finalizer = weakref.finalize(self, _close_transport, self._t)
        for attr, cls in self._services.items():
            setattr(self, attr, cls(self))

    def close(self):
        """Closes the connection. Calls in flight that were not sent yet
        fail with CANCELLED at once; calls already sent get their reply
        first, for up to 2 s (then CANCELLED): see _Transport.close."""
        self._finalizer.detach()
        self._t.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _next_call_id(self):
        while True:
            cid = (self._call_base + next(self._counter)) & _UINT64
            if cid != 0:
                return cid

    def call(self, path, request, response_type, timeout=None, metadata=None, idempotent=None,
             wait_for_ready=None):
        """Calls any method by path with a request message; returns a
        response_type message. For methods outside the compiled contract."""
        m = _Method.__new__(_Method)
        m.name, m.path, m.input, m.output = path.rsplit("/", 1)[-1], path, type(request), response_type
        m.idempotent = (bool(re.match(r"(Get|List|Check|Diff)([A-Z]|$)", m.name))
                        if idempotent is None else idempotent)
        return self._invoke(m, request, timeout, metadata, wait_for_ready)

    def _invoke(self, method, request, timeout, metadata, wait_for_ready=None):
        env = _pb.envelope.Request()
        env.method = method.path
        env.payload = request.SerializeToString()
        seconds = self.timeout if timeout is None else float(timeout)
        timeout_ms = min(_MAX_TIMEOUT_MS, max(1, int(round(seconds * 1000))))
        deadline = _now_ms() + timeout_ms
        if self._auth is not None:
            env.metadata.add(key=self._auth[0], value=self._auth[1])
        if metadata:
            items = metadata.items() if hasattr(metadata, "items") else metadata
            for k, v in items:
                env.metadata.add(key=k, value=v)
        # A read-only call whose connection drops is sent again, with a new
        # call id, on the next connection until its deadline (as the C
        # client's call_raw). Not a call signed for one use (x-frep-mac: a
        # Partner call): its receiver refuses a MAC it has seen.
        resend = method.idempotent and not any(m.key == "x-frep-mac" for m in env.metadata)
        while True:
            env.timeout_ms = min(timeout_ms, max(1, deadline - _now_ms()))
            env.call_id = self._next_call_id()
            data = env.SerializeToString()
            if len(data) > _SMALL_ENOUGH:
                self._check_size(len(data), max(1, deadline - _now_ms()) / 1000.0)
            left = min(timeout_ms, max(1, deadline - _now_ms()))
            try:
                reply = self._t.roundtrip(data, left, method.idempotent, method.path,
                                          wait_for_ready)
                break
            except FrepError as e:
                if not (resend and getattr(e, "_conn_lost", False)
                        and _now_ms() + 10 < deadline):
                    raise
        try:
            resp = _pb.envelope.Response.FromString(reply)
        except Exception as e:  # DecodeError
            raise FrepError(Code.INTERNAL, "%s: reply envelope of %d bytes does not decode: %s"
                            % (method.path, len(reply), e))
        if resp.code != 0:
            code = resp.code if 0 <= resp.code < len(_CODE_NAMES) else Code.UNKNOWN
            raise FrepError(code, resp.message)
        try:
            return method.output.FromString(resp.payload)
        except Exception as e:
            raise FrepError(Code.INTERNAL, "%s: reply of %d bytes does not decode as %s: %s"
                            % (method.path, len(resp.payload),
                               method.output.DESCRIPTOR.full_name, e))

    def _check_size(self, n, timeout):
        # Learn the server's limit before sending anything large: an
        # oversized request is dropped with the connection (PROTOCOL.md §8).
        limit = self._t.server_max
        if limit == 0:
            info = self.introspection.get_server_info(timeout=timeout)
            limit = info.max_message_bytes
            self._t.server_max = limit
        if limit and n + 4 > limit:
            raise FrepError(Code.RESOURCE_EXHAUSTED, "request of %d bytes exceeds the server's "
                            "limit of %d bytes" % (n + 4, limit))


class _pb:
    envelope = None  # frep.rpc.v1.envelope_pb2, set by _install()


def _install(modules):
    """Builds the service classes and Client methods from the descriptors."""
    from google.protobuf import symbol_database

    classes = {}
    services = []
    for mod in modules:
        fd = mod.DESCRIPTOR
        if fd.name == "frep/rpc/v1/envelope.proto":
            _pb.envelope = mod
        for name in fd.message_types_by_name:
            classes[fd.package + "." + name] = getattr(mod, name)
        services.extend(fd.services_by_name.values())

    def cls_of(full_name):
        if full_name not in classes:
            classes[full_name] = symbol_database.Default().GetSymbol(full_name)
        return classes[full_name]

    by_name = {}
    for sd in services:
        for md in sd.methods:
            cls_of(md.input_type.full_name)
            cls_of(md.output_type.full_name)
        stubs = {}
        for md in sd.methods:
            m = _Method(md, classes)
            stubs[snake_case(md.name)] = _make_stub(m)
            if sd.name != "Partner":
                by_name.setdefault(snake_case(md.name), []).append(snake_case(sd.name))
        stubs["__doc__"] = "The %s service: %s." % (
            sd.full_name, ", ".join(sorted(k for k in stubs if not k.startswith("_"))))
        cls = type(sd.name, (_ServiceBase,), stubs)
        Client._services[snake_case(sd.name)] = cls
    for name, owners in by_name.items():
        if len(owners) == 1 and not hasattr(Client, name):
            svc = owners[0]

            def flat(self, *args, _svc=svc, _name=name, **kw):
                return getattr(getattr(self, _svc), _name)(*args, **kw)

            flat.__name__ = name
            flat.__qualname__ = "Client." + name
            flat.__doc__ = getattr(Client._services[svc], name).__doc__
            setattr(Client, name, flat)
            Client._flat[name] = svc
    return classes
