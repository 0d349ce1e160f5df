"""`python -m reconciler.cli`: the same as the `vzgitops` command."""

import sys

from reconciler.cli import main

sys.exit(main())
