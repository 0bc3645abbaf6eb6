"""Allow ``python -m keytrail``."""

from __future__ import annotations

import sys

from keytrail.cli import main

if __name__ == "__main__":
    sys.exit(main())
