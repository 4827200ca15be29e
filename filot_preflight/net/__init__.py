"""What several checkers share: TLS handshakes and certificates, HTTP probing, Redis connections, AWS clients,
and the table of fixes for connection failures. Nothing here knows a particular checker's results."""
