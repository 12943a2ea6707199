"""`python -m textfile_redis`: the same command line as `textfile-redis`."""

from __future__ import annotations

import sys

from .entry import main

sys.exit(main())
