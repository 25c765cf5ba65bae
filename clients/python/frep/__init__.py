"""frep: a Python client for frepd, on nng (ctypes) and protobuf.

    import frep
    with frep.Client("ipc:///tmp/a.sock") as c:
        print(c.health.check().status)
        c.add_scope(scope_id="10.0.0.0", subnet_mask="255.255.255.0",
                    start_range="10.0.0.10", end_range="10.0.0.200")

The messages are the modules protoc generates from frep's proto/ (never
committed; see frep/_proto.py for where they are looked for). They are
importable as frep.v1.config_pb2, frep.v1.dhcp_server_pb2, ...,
frep.rpc.v1.envelope_pb2; `frep.pb` gathers every message class by its
short name (frep.pb.Scope, frep.pb.ReplicateByNameRequest, ...).
"""

from . import _proto
from .client import Client, ClientOptionError, Code, FrepError, code_name, snake_case
from .client import ERRORS
from . import client as _client

# One exception class per status code, all subclasses of FrepError:
# frep.NotFoundError, frep.UnavailableError, frep.DeadlineExceededError, ...
globals().update({_c.__name__: _c for _c in ERRORS.values()})

_modules = _proto.load(__import__(__name__))


class _Messages:
    """Every message and enum class of the contract, by short name."""

    def __repr__(self):
        return "<frep.pb: %d names>" % len(self.__dict__)


pb = _Messages()
for _full, _cls in sorted(_client._install(_modules).items()):
    setattr(pb, _full.rsplit(".", 1)[-1], _cls)
for _m in _modules:
    for _enum in _m.DESCRIPTOR.enum_types_by_name:
        setattr(pb, _enum, getattr(_m, _enum))

__version__ = "0.1.0"
__all__ = ["Client", "ClientOptionError", "Code", "FrepError", "ERRORS", "code_name", "pb",
           "snake_case"] + [_c.__name__ for _c in ERRORS.values()]
del _full, _cls, _m, _enum
