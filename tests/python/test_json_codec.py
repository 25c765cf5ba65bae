"""proto/frep_json.c against protoc's Python json_format (ctest: json_codec_test).

For every message type of the contract (as the C tool finds them by walking
the services), a message with every field set (and an empty one) is:
  - written to JSON by the C codec and compared with json_format's JSON;
  - read back by the C codec from json_format's JSON (JSON names and, again,
    original proto names) and compared with the original message.
Then the error classes: unknown fields, bad JSON, wrong types, both members
of a oneof, each INVALID_ARGUMENT naming the field's path. The contract has
no oneof with two members: the oneof cases run on the test-only
frep.test.v1.JsonOneofProbe (tests/proto/frep_test.proto), which the tool
lists beside the contract's messages.

Environment: JSON_CODEC_TOOL (the built tests/json_codec_tool), FREP_PROTO_PY
(the build's generated *_pb2 modules), FREP_TEST_PROTO_PY (frep_test_pb2).
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.environ["FREP_PROTO_PY"])
sys.path.insert(0, os.environ["FREP_TEST_PROTO_PY"])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unittest_run  # noqa: E402

from google.protobuf import json_format  # noqa: E402
from google.protobuf import symbol_database  # noqa: E402
from google.protobuf.descriptor import FieldDescriptor as FD  # noqa: E402

import frep.rpc.v1.envelope_pb2  # noqa: E402,F401
import frep.rpc.v1.introspection_pb2  # noqa: E402,F401
import frep.v1.config_pb2  # noqa: E402,F401
import frep.v1.data_plane_pb2  # noqa: E402,F401
import frep.v1.dhcp_server_pb2  # noqa: E402,F401
import frep.v1.health_pb2  # noqa: E402,F401
import frep.v1.partner_pb2  # noqa: E402,F401
import frep.v1.replication_pb2  # noqa: E402,F401
import frep_test_pb2  # noqa: E402,F401

TOOL = None


class Tool:
    def __init__(self):
        self.p = subprocess.Popen([os.environ["JSON_CODEC_TOOL"]], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def ask(self, line):
        self.p.stdin.write(line.replace("\n", " ") + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().rstrip("\n")

    def list(self):
        self.p.stdin.write("list\n")
        self.p.stdin.flush()
        names = []
        while True:
            n = self.p.stdout.readline().rstrip("\n")
            if n == ".":
                return names
            names.append(n)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def setUpModule():
    global TOOL
    TOOL = Tool()


def tearDownModule():
    TOOL.close()


SCALARS = {
    FD.TYPE_INT32: [-7, 2147483647], FD.TYPE_SINT32: [-7, 3], FD.TYPE_SFIXED32: [-7, 3],
    FD.TYPE_UINT32: [4294967295, 7], FD.TYPE_FIXED32: [4294967295, 7],
    FD.TYPE_INT64: [-1234567890123456789, 9], FD.TYPE_SINT64: [-5, 9223372036854775807],
    FD.TYPE_SFIXED64: [-5, 6], FD.TYPE_UINT64: [18446744073709551615, 1],
    FD.TYPE_FIXED64: [18446744073709551615, 1],
    FD.TYPE_BOOL: [True, True],
    FD.TYPE_STRING: ['h\u00e9llo "q" \\ \u2603', "x"],
    FD.TYPE_BYTES: [b"\x00\xff\x10abc", b"\xfb"],
    FD.TYPE_DOUBLE: [1.5, -2.25], FD.TYPE_FLOAT: [0.5, -1.0],
}


def fill(msg, depth=0):
    """Sets every field of msg (the first member of each oneof, the others
    in fill_oneof_variants), nested messages down to depth 3."""
    chosen = set()
    for f in msg.DESCRIPTOR.fields:
        oneof = f.containing_oneof
        if oneof is not None and not oneof.name.startswith("_"):
            if oneof.name in chosen:
                continue
            chosen.add(oneof.name)
        if f.type == FD.TYPE_MESSAGE:
            if depth >= 3:
                continue
            if f.label == FD.LABEL_REPEATED:
                for _ in range(2):
                    fill(getattr(msg, f.name).add(), depth + 1)
            else:
                sub = getattr(msg, f.name)
                sub.SetInParent()
                fill(sub, depth + 1)
            continue
        if f.type == FD.TYPE_ENUM:
            vals = [v.number for v in f.enum_type.values if v.number != 0] or [0]
            vals = [vals[-1], vals[0]]
        else:
            vals = SCALARS[f.type]
        if f.label == FD.LABEL_REPEATED:
            getattr(msg, f.name).extend(vals)
        else:
            setattr(msg, f.name, vals[0])
    return msg


class JsonCodecTest(unittest.TestCase):
    def types(self):
        db = symbol_database.Default()
        names = TOOL.list()
        self.assertGreater(len(names), 40)
        self.assertIn("frep.test.v1.JsonOneofProbe", names)
        return [(n, db.GetSymbol(n)) for n in names]

    def check_message(self, name, msg):
        want = json_format.MessageToDict(msg)
        r = TOOL.ask("to-json %s %s" % (name, msg.SerializeToString().hex()))
        self.assertTrue(r.startswith("ok "), "%s: %s" % (name, r))
        got = json.loads(r[3:])
        self.assertEqual(got, want, name)
        for proto_names in (False, True):
            text = json_format.MessageToJson(msg, preserving_proto_field_name=proto_names,
                                             indent=None)
            r = TOOL.ask("from-json %s %s" % (name, text))
            self.assertTrue(r.startswith("ok "), "%s: %s" % (name, r))
            back = type(msg).FromString(bytes.fromhex(r[3:]))
            self.assertEqual(back, msg, "%s from %s" % (name, text))
            # JSON -> proto -> JSON gives the same JSON.
            r = TOOL.ask("to-json %s %s" % (name, back.SerializeToString().hex()))
            self.assertEqual(json.loads(r[3:]), want, name)

    def test_json_codec_every_message_matches_json_format(self):
        for name, cls in self.types():
            with self.subTest(message=name):
                self.check_message(name, cls())
                self.check_message(name, fill(cls()))

    def test_json_codec_every_oneof_member(self):
        for name, cls in self.types():
            for oneof in cls.DESCRIPTOR.oneofs:
                for f in oneof.fields[1:]:
                    msg = cls()
                    if f.type == FD.TYPE_MESSAGE:
                        getattr(msg, f.name).SetInParent()
                    elif f.type == FD.TYPE_ENUM:
                        setattr(msg, f.name, f.enum_type.values[-1].number)
                    else:
                        setattr(msg, f.name, SCALARS[f.type][0])
                    self.check_message(name, msg)
                # A member at its default is still present.
                msg = cls()
                f = oneof.fields[0]
                if f.type not in (FD.TYPE_MESSAGE, FD.TYPE_ENUM):
                    setattr(msg, f.name, type(SCALARS[f.type][0])())
                    self.check_message(name, msg)

    def test_json_codec_accepts_json_format_inputs(self):
        # 64-bit integers as numbers, enums as numbers, null as default,
        # base64 unpadded and in the URL alphabet.
        r = TOOL.ask('from-json frep.rpc.v1.Request {"callId": 42, "timeoutMs": "7", '
                     '"payload": "-_8", "method": null}')
        self.assertTrue(r.startswith("ok "), r)
        req = frep.rpc.v1.envelope_pb2.Request.FromString(bytes.fromhex(r[3:]))
        self.assertEqual((req.call_id, req.timeout_ms, req.payload, req.method),
                         (42, 7, b"\xfb\xff", ""))
        r = TOOL.ask('from-json frep.rpc.v1.Response {"code": 5}')
        resp = frep.rpc.v1.envelope_pb2.Response.FromString(bytes.fromhex(r[3:]))
        self.assertEqual(resp.code, 5)

    def expect_error(self, name, text, *needles):
        r = TOOL.ask("from-json %s %s" % (name, text))
        self.assertTrue(r.startswith("err INVALID_ARGUMENT "), r)
        for n in needles:
            self.assertIn(n, r)

    def test_json_codec_errors_name_the_path(self):
        self.expect_error("frep.rpc.v1.Request", '{"method": "x", "bogus": 1}',
                          'bogus', 'frep.rpc.v1.Request has no field')
        self.expect_error("frep.rpc.v1.Request", '{"method": ', "not JSON", "line 1")
        self.expect_error("frep.rpc.v1.Request", '[1]', "not an object")
        self.expect_error("frep.rpc.v1.Request", '{"timeoutMs": -1}', "timeoutMs", "-1")
        self.expect_error("frep.rpc.v1.Request", '{"timeoutMs": 4294967296}', "timeoutMs")
        self.expect_error("frep.rpc.v1.Request", '{"timeoutMs": 1.5}', "timeoutMs")
        self.expect_error("frep.rpc.v1.Request", '{"callId": "12x"}', "callId", '"12x"')
        self.expect_error("frep.rpc.v1.Request", '{"payload": "a$b="}', "payload", "base64")
        self.expect_error("frep.rpc.v1.Request", '{"metadata": [{"key": 3}]}',
                          "metadata[0].key", "3 is not a string")
        self.expect_error("frep.rpc.v1.Request", '{"metadata": {"key": "a"}}',
                          "metadata", "not an array")
        self.expect_error("frep.rpc.v1.Request", '{"call_id": 1, "callId": 2}',
                          "given twice")
        self.expect_error("frep.rpc.v1.Response", '{"code": "NOPE"}', "code",
                          "frep.rpc.v1.Code")
        self.expect_error("frep.rpc.v1.Request", '{"method": "a", "method": "b"}',
                          "not JSON", "duplicate")

    def test_json_codec_oneof_twice_is_refused(self):
        tried = 0
        for name, cls in self.types():
            for oneof in cls.DESCRIPTOR.oneofs:
                if len(oneof.fields) < 2 or oneof.name.startswith("_"):
                    continue
                a, b = oneof.fields[0], oneof.fields[1]
                msg_a, msg_b = cls(), cls()
                for m, f in ((msg_a, a), (msg_b, b)):
                    if f.type == FD.TYPE_MESSAGE:
                        getattr(m, f.name).SetInParent()
                    else:
                        setattr(m, f.name, SCALARS.get(f.type, [1])[0])
                both = json_format.MessageToDict(msg_a)
                both.update(json_format.MessageToDict(msg_b))
                self.expect_error(name, json.dumps(both), "only one of them")
                tried += 1
        # At least frep.test.v1.JsonOneofProbe's.
        self.assertGreater(tried, 0, "no oneof with two members among the tool's types")


if __name__ == "__main__":
    sys.exit(unittest_run.main(__name__))
