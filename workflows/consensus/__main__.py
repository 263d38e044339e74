"""Entry point of ``python -m workflows.consensus``."""

import sys

from workflows.consensus.cli import main

sys.exit(main())
