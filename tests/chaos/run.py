"""Runs the chaos test (tests/chaos/test_chaos.py) and ends with one 'N passed, N failed' line.

    SLUICE_BIN=build/debug/src/cli/sluice python3 tests/chaos/run.py      # CI size: 20 kills
    SLUICE_CHAOS_KILLS=100 SLUICE_CHAOS_ORDERS=30000 python3 tests/chaos/run.py
"""

import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py")
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors)
passed = result.testsRun - failed - len(result.skipped)
print("chaos: %d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)
