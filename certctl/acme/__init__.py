"""ACME (RFC 8555): the client flow, accounts, orders, challenges and their solvers.

Only ``certctl.acme.client`` imports the ``acme`` and ``josepy`` libraries.
"""
