"""``python -m fhooks``: the command line (see :mod:`fhooks.cli`)."""

import sys

from fhooks.cli import main

sys.exit(main())
