"""The few nng functions the client needs, through ctypes on libnng.so.1.

No compiled extension: this loads the system's shared library (Debian's
libnng1). Every foreign call releases the GIL (ctypes.CDLL), so a thread
blocked in nng_aio_wait does not hold up the others.
"""

import ctypes
import ctypes.util
import os

# nng's error numbers (nng.h, enum nng_errno_enum).
ENOMEM = 2
EBUSY = 4
ETIMEDOUT = 5
ECONNREFUSED = 6
ECLOSED = 7
ENOTSUP = 9
EMSGSIZE = 17
ECONNABORTED = 18
ECONNRESET = 19
ECANCELED = 20
ECONNSHUT = 31

FLAG_NONBLOCK = 2
DURATION_INFINITE = -1
PIPE_EV_ADD_POST = 1
PIPE_EV_REM_POST = 2

OPT_REQ_RESENDTIME = b"req:resend-time"
OPT_RECVMAXSZ = b"recv-size-max"
OPT_RECONNMINT = b"reconnect-time-min"
OPT_RECONNMAXT = b"reconnect-time-max"
OPT_TLS_CONFIG = b"tls-config"

# nng/supplemental/tls/tls.h
TLS_MODE_CLIENT = 0
TLS_AUTH_MODE_REQUIRED = 2


class Socket(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


class Ctx(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


class Dialer(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


class Pipe(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32)]


_p = ctypes.c_void_p
_int = ctypes.c_int
_dur = ctypes.c_int32

# void (*nng_pipe_cb)(nng_pipe, nng_pipe_ev, void *)
PIPE_CB = ctypes.CFUNCTYPE(None, Pipe, ctypes.c_int, ctypes.c_void_p)


def _load():
    names = []
    env = os.environ.get("FREP_LIBNNG")
    if env:
        names.append(env)
    names.append("libnng.so.1")
    found = ctypes.util.find_library("nng")
    if found:
        names.append(found)
    errors = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append("%s: %s" % (name, e))
    raise ImportError("frep: cannot load nng (install libnng1, or set FREP_LIBNNG): "
                      + "; ".join(errors))


lib = _load()

_SIGNATURES = {
    "nng_req0_open": (_int, [ctypes.POINTER(Socket)]),
    "nng_close": (_int, [Socket]),
    "nng_socket_set_ms": (_int, [Socket, ctypes.c_char_p, _dur]),
    "nng_socket_set_size": (_int, [Socket, ctypes.c_char_p, ctypes.c_size_t]),
    "nng_pipe_notify": (_int, [Socket, ctypes.c_int, PIPE_CB, _p]),
    "nng_pipe_close": (_int, [Pipe]),
    "nng_dialer_create": (_int, [ctypes.POINTER(Dialer), Socket, ctypes.c_char_p]),
    "nng_dialer_start": (_int, [Dialer, _int]),
    "nng_dialer_set_ptr": (_int, [Dialer, ctypes.c_char_p, _p]),
    "nng_ctx_open": (_int, [ctypes.POINTER(Ctx), Socket]),
    "nng_ctx_close": (_int, [Ctx]),
    "nng_ctx_send": (None, [Ctx, _p]),
    "nng_ctx_recv": (None, [Ctx, _p]),
    "nng_aio_alloc": (_int, [ctypes.POINTER(_p), _p, _p]),
    "nng_aio_free": (None, [_p]),
    "nng_aio_set_timeout": (None, [_p, _dur]),
    "nng_aio_set_msg": (None, [_p, _p]),
    "nng_aio_get_msg": (_p, [_p]),
    "nng_aio_wait": (None, [_p]),
    "nng_aio_result": (_int, [_p]),
    "nng_aio_cancel": (None, [_p]),
    "nng_aio_stop": (None, [_p]),
    "nng_msg_alloc": (_int, [ctypes.POINTER(_p), ctypes.c_size_t]),
    "nng_msg_free": (None, [_p]),
    "nng_msg_body": (_p, [_p]),
    "nng_msg_len": (ctypes.c_size_t, [_p]),
    "nng_strerror": (ctypes.c_char_p, [_int]),
    "nng_dialer_id": (_int, [Dialer]),
    "nng_dialer_close": (_int, [Dialer]),
    "nng_stats_get": (_int, [ctypes.POINTER(_p)]),
    "nng_stats_free": (None, [_p]),
    "nng_stat_next": (_p, [_p]),
    "nng_stat_child": (_p, [_p]),
    "nng_stat_name": (ctypes.c_char_p, [_p]),
    "nng_stat_type": (_int, [_p]),
    "nng_stat_value": (ctypes.c_uint64, [_p]),
    # nng_tls_config *: a reference-counted handle; a dialer holds its own
    # reference once given one (NNG_OPT_TLS_CONFIG).
    "nng_tls_engine_name": (ctypes.c_char_p, []),
    "nng_tls_config_alloc": (_int, [ctypes.POINTER(_p), _int]),
    "nng_tls_config_free": (None, [_p]),
    "nng_tls_config_auth_mode": (_int, [_p, _int]),
    "nng_tls_config_ca_file": (_int, [_p, ctypes.c_char_p]),
    "nng_tls_config_server_name": (_int, [_p, ctypes.c_char_p]),
    # (cfg, cert PEM, key PEM, key password or NULL), NUL-terminated strings.
    "nng_tls_config_own_cert": (_int, [_p, _p, _p, ctypes.c_char_p]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def strerror(rv):
    return lib.nng_strerror(rv).decode("utf-8", "replace")


STAT_SCOPE = 0


def dialer_errors(dialer_id):
    """Failed connection attempts of a dialer, from nng's statistics:
    (refused, other, failed, auth), or None if they cannot be read; auth
    (a TLS handshake refused by either side) is counted in failed too. Walks the tree
    itself: nng 1.5.2's nng_stat_find_dialer can return another dialer."""
    root = _p()
    if lib.nng_stats_get(ctypes.byref(root)) != 0:
        return None

    def children(item):
        item = lib.nng_stat_child(item)
        while item:
            yield item
            item = lib.nng_stat_next(item)

    def find(item):
        for k in children(item):
            if lib.nng_stat_type(k) != STAT_SCOPE:
                continue
            if lib.nng_stat_name(k) == b"dialer":
                vals = {lib.nng_stat_name(c): c for c in children(k)}
                if b"id" in vals and lib.nng_stat_value(vals[b"id"]) == dialer_id:
                    return {n: lib.nng_stat_value(c) for n, c in vals.items()
                            if lib.nng_stat_type(c) != STAT_SCOPE}
            found = find(k)
            if found is not None:
                return found
        return None

    try:
        v = find(root)
    finally:
        lib.nng_stats_free(root)
    if v is None:
        return None
    # (The "url" stat is a string; nng_stat_value gives 0 for it, unused.)
    return (v.get(b"refused", 0), v.get(b"other", 0) + v.get(b"canceled", 0),
            v.get(b"proto", 0) + v.get(b"auth", 0) + v.get(b"timeout", 0) + v.get(b"reject", 0),
            v.get(b"auth", 0))


def msg_from_bytes(data):
    """A new nng_msg holding `data`; the caller owns it. None when out of memory."""
    m = _p()
    if lib.nng_msg_alloc(ctypes.byref(m), len(data)) != 0:
        return None
    if data:
        ctypes.memmove(lib.nng_msg_body(m), data, len(data))
    return m


def msg_take_bytes(m):
    """The body of nng_msg `m` as bytes; frees `m`."""
    try:
        n = lib.nng_msg_len(m)
        return ctypes.string_at(lib.nng_msg_body(m), n) if n else b""
    finally:
        lib.nng_msg_free(m)
