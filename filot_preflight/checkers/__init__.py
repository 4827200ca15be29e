"""Built-in checkers, one module per subsystem.

They register through the `filot_preflight.checkers` entry-point group, as plugins do.
"""
