"""filot-preflight: is this FiLot environment ready for production, and if not, what exactly to fix."""

__version__ = "0.1.0"
