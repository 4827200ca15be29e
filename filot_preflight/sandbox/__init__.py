"""A real FiLot-shaped stack on loopback (Redis TLS, Postgres SSL, Temporal, S3, AWS stand-in, HTTPS apps).

`base` is the interface service modules implement; `stack.up/down/status` run the whole stack.
Modules import their client libraries lazily: importing this package must stay cheap.
"""
