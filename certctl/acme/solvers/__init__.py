"""Challenge solvers: HTTP-01 responders and DNS-01 TXT record providers."""
