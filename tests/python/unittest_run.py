"""Runs a test module's unittest cases the way docs/TESTS.md counts them.

unittest reports a skipped case (skipTest, skipIf) as a pass; here a run
with a skip exits 77 (ctest's SKIP_RETURN_CODE) and prints
FREP-SKIP(python) with each case's reason, for tests/skip_guard.sh.
"""

import sys
import unittest


def main(module_name):
    """Runs every case of the module named module_name (its __name__).
    Returns 0 (all passed), 1 (a failure or an error) or 77 (all others
    passed, some were skipped)."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print("%d passed, %d failed, %d skipped" % (passed, failed, len(result.skipped)))
    if result.wasSuccessful() and result.skipped:
        for case, why in result.skipped:
            print("FREP-SKIP(python): %s: %s" % (case.id(), why))
        return 77
    return 0 if result.wasSuccessful() else 1
