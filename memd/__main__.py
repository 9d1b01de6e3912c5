"""``python -m memd``: the same as the ``memd`` script."""

import sys

from memd.cli import main

sys.exit(main())
