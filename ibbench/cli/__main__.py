"""``python -m ibbench.cli``: the ``ibbench`` command."""

import sys

from . import main

sys.exit(main())
