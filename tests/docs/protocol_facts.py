"""docs/PROTOCOL.md says what a real frepd does: checks the document's stated
facts against a running frepd (ipc://, its own temp --db), so the two cannot
drift (issue 12):
- §Introspection's ServerInfo table: every field's documented value equals
  the live GetServerInfo reply (services in order, limits, defaults);
- the Health table: Check("") and Check(<each served service>) answer
  SERVING, an unserved name NOT_FOUND;
- §6's metadata limit: the documented number of pairs is accepted and one
  more is INVALID_ARGUMENT with the documented message;
- the worked error reply: the documented bytes are exactly what frepd sends
  for the documented request.
Prints one line per check and "docs: N passed, 0 failed"; exits 1 on the
first mismatch, naming the document's text and the server's answer."""
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import frepd_procs  # noqa: E402
import frep  # noqa: E402

DOC = os.path.join(os.environ["FREP_SOURCE_DIR"], "docs", "PROTOCOL.md")
text = open(DOC, encoding="utf-8").read()
passed = 0


def check(cond, what, doc, live):
    global passed
    if not cond:
        print("FAIL: %s\n  PROTOCOL.md: %s\n  frepd:       %s" % (what, doc, live), file=sys.stderr)
        sys.exit(1)
    passed += 1
    print("ok: %s" % what)


def first_int(s):
    m = re.search(r"\d+", s)
    return int(m.group(0)) if m else None


def table_rows(after_heading):
    """Rows '| a | b | c |' of the first table after a line containing after_heading."""
    i = text.index(after_heading)
    rows = []
    started = False
    for line in text[i:].splitlines()[1:]:
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header


work = frepd_procs.tmpdir()
d = frepd_procs.Frepd(work, "a")
try:
    if not d.wait_socket():
        print("FAIL: frepd did not start:\n" + d.log(), file=sys.stderr)
        sys.exit(1)
    with frep.Client(d.url, timeout=10) as c:
        info = c.introspection.get_server_info()
        rows = {r[1].strip("`"): r[2] for r in table_rows("**`/frep.rpc.v1.Introspection/GetServerInfo`** → `ServerInfo`")}
        doc_services = re.findall(r"`([a-z0-9.]+\.[A-Z][A-Za-z]+)`", rows["services"])
        check(doc_services == list(info.services), "ServerInfo.services", doc_services, list(info.services))
        m = re.search(r"\((\d+) by default\)", rows["max_message_bytes"])
        check(m and int(m.group(1)) == info.max_message_bytes, "ServerInfo.max_message_bytes",
              rows["max_message_bytes"], info.max_message_bytes)
        m = re.search(r"default (\d+)", rows["worker_threads"])
        check(m and int(m.group(1)) == info.worker_threads, "ServerInfo.worker_threads",
              rows["worker_threads"], info.worker_threads)
        check(first_int(rows["max_metadata_pairs"]) == info.max_metadata_pairs, "ServerInfo.max_metadata_pairs",
              rows["max_metadata_pairs"], info.max_metadata_pairs)
        check(first_int(rows["call_id_cache_seconds"]) == info.call_id_cache_seconds,
              "ServerInfo.call_id_cache_seconds", rows["call_id_cache_seconds"], info.call_id_cache_seconds)
        m = re.search(r'`"frepd ([0-9.]+)"`', rows["version"])
        check(m and info.version == "frepd " + m.group(1), "ServerInfo.version", rows["version"], info.version)

        # Health: the whole server and every served service SERVING, others NOT_FOUND.
        for svc in [""] + list(info.services):
            st = c.health.check(service=svc).status
            check(st == 1, "Health.Check(%r) is SERVING" % svc, "SERVING for a served service", st)
        m = re.search(r'e\.g\. `"([^"]+)"` \| `NOT_FOUND`', text)
        try:
            c.health.check(service=m.group(1))
            got = "OK"
        except frep.FrepError as e:
            got = e.name
        check(got == "NOT_FOUND", "Health.Check(%r) is NOT_FOUND" % m.group(1), "NOT_FOUND", got)

        # §6: the documented metadata limit, and the message one over it.
        m = re.search(r"\*\*Limit: (\d+) pairs per request\*\*", text)
        limit = int(m.group(1))
        check(limit == info.max_metadata_pairs, "§6 limit equals ServerInfo", limit, info.max_metadata_pairs)
        ok_md = [("x-k%d" % i, "v") for i in range(limit)]
        c.health.check(metadata=ok_md)
        try:
            c.health.check(metadata=ok_md + [("x-one-more", "v")])
            got = "OK"
        except frep.FrepError as e:
            got = "%s %s" % (e.name, e.message)
        want = "metadata: %d pairs, at most %d" % (limit + 1, limit)
        check(got.startswith("INVALID_ARGUMENT") and want in got and want.replace(str(limit + 1), "N") in re.sub(r"\s+", " ", text),
              "§6 one pair over the limit", want, got)

    # The worked error reply: build the documented request, compare bytes.
    m = re.search(r"method `(/[^`]+)`\ngets `08 0c 12 ([0-9a-f]{2}) \"([^\"]+)\" 28 01`", text)
    method, mlen, message = m.group(1), int(m.group(2), 16), m.group(3)
    check(mlen == len(message), "worked example: message length byte", mlen, len(message))
    path = d.url[len("ipc://"):]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    s.sendall(b"\x00SP\x00\x00\x30\x00\x00")  # SP header: req0 (48)
    assert s.recv(8) == b"\x00SP\x00\x00\x31\x00\x00"
    env = bytes([0x0A, len(method)]) + method.encode() + b"\x18\xe8\x07" + b"\x28\x01"
    body = b"\x80\x00\x00\x01" + env
    s.sendall(b"\x01" + struct.pack(">Q", len(body)) + body)
    hdr = s.recv(9)
    n = struct.unpack(">Q", hdr[1:])[0]
    reply = b""
    while len(reply) < n:
        reply += s.recv(n - len(reply))
    s.close()
    want = b"\x08\x0c\x12" + bytes([mlen]) + message.encode() + b"\x28\x01"
    check(reply[4:] == want, "worked example: reply bytes", want.hex(" "), reply[4:].hex(" "))
finally:
    rc = d.stop()
    frepd_procs.rmtree(work)
print("docs: %d passed, 0 failed" % passed)
