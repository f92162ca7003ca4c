"""``python -m bench SUITE ...``: run benchmark suites (see :mod:`bench.harness`);
``python -m bench frontier SUITE ...``: quality against compute (see :mod:`bench.frontier`)."""

import sys

if sys.argv[1:2] == ["frontier"]:
    from .frontier import main as frontier_main

    sys.exit(frontier_main(sys.argv[2:]))

from .harness import main  # noqa: E402

sys.exit(main())
