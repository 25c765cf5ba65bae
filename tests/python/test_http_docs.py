"""Runs the curl examples of docs/PROTOCOL.md §15 against two real frepd
(ctest: http_docs_test) and compares each output with the JSON the document
shows after it: every key shown must be there with that value (the document
may abridge), lists element by element, and a trailing HTTP status line
exactly.

Environment: FREPD (set by ctest), FREP_SOURCE_DIR.
"""

import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frepd_procs  # noqa: E402
import http_util  # noqa: E402

SOURCE_DIR = os.environ.get("FREP_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def examples():
    with open(os.path.join(SOURCE_DIR, "docs", "PROTOCOL.md")) as f:
        doc = f.read()
    m = re.search(r"<!-- http-examples:begin -->(.*)<!-- http-examples:end -->", doc, re.S)
    if not m:
        raise AssertionError("PROTOCOL.md has no http-examples section")
    pairs = re.findall(r"```sh\n(.*?)```\n```json\n(.*?)```", m.group(1), re.S)
    if len(pairs) < 5:
        raise AssertionError("only %d examples found" % len(pairs))
    return pairs


def contains(got, want, path="$"):
    """Every key of want in got with the same value (recursively)."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: %r is not an object" % (path, got)
        for k, v in want.items():
            if k not in got:
                return "%s.%s: missing" % (path, k)
            err = contains(got[k], v, path + "." + k)
            if err:
                return err
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return "%s: %r is not a list of %d" % (path, got, len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            err = contains(g, w, "%s[%d]" % (path, i))
            if err:
                return err
        return None
    return None if got == want else "%s: %r, expected %r" % (path, got, want)


def main():
    work = frepd_procs.tmpdir()
    nodes = []
    failures = 0
    try:
        token = http_util.write_token(work, "docs-token")
        a, http = http_util.start(work, "a", ["--token-file", token])
        nodes.append(a)
        b, _ = http_util.start(work, "b")
        nodes.append(b)
        env = dict(os.environ, FREP_HTTP=http, FREP_TOKEN="docs-token", FREP_PARTNER=b.url)
        for i, (sh, expected) in enumerate(examples()):
            want_status = None
            lines = expected.rstrip("\n").split("\n")
            if re.fullmatch(r"\d{3}", lines[-1]):
                want_status = lines[-1]
                lines = lines[:-1]
            want = json.loads("\n".join(lines))
            r = subprocess.run(["bash", "-c", sh], env=env, capture_output=True, text=True,
                               timeout=60)
            out = r.stdout.strip()
            status = None
            if want_status is not None:
                out, _, status = out.rpartition(" ")
            err = None
            if r.returncode != 0:
                err = "curl exited %d: %s" % (r.returncode, r.stderr)
            elif status != want_status:
                err = "HTTP status %s, expected %s" % (status, want_status)
            else:
                try:
                    err = contains(json.loads(out), want)
                except ValueError as e:
                    err = "output is not JSON (%s): %r" % (e, out)
            first = sh.strip().split("\n")[0]
            if err:
                failures += 1
                print("FAIL example %d (%s): %s\n  output: %s" % (i + 1, first, err, out))
            else:
                print("ok   example %d (%s)" % (i + 1, first))
    finally:
        for n in nodes:
            rc = n.stop()
            if rc != 0:
                failures += 1
                print("frepd %s exited %s:\n%s" % (n.name, rc, n.log()))
        frepd_procs.rmtree(work)
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
