"""Numeric limits of vzctl 4.x's parameter parsing, used by the simulated vzctl and vzlist.

The exit codes are `reconciler.vzexit.VzctlExit`, shared with the executor.
"""

from __future__ import annotations

LONG_MAX = 9223372036854775807
INT_MAX = 2147483647
VEID_MAX = 2147483644
PAGE_SIZE = 4096
