"""``python -m bench SUITE ...``: run benchmark suites (see :mod:`bench.harness`)."""

import sys

from .harness import main

sys.exit(main())
