"""filot-preflight: is this FiLot environment ready for production, and if not, what exactly to fix."""

import time

__version__ = "0.1.0"

# When the command started: --deadline bounds the whole command, start-up and input loading included.
STARTED = time.monotonic()
