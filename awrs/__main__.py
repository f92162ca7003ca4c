"""Run the awrs command line."""

import sys

from .cli import main

sys.exit(main())
