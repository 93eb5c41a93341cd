"""Pure cryptography and pure decisions for certctl.

* ``keys``: private key generation, PEM encoding, loading, spec matching.
* ``csr``: the CSR cert-manager builds from a Certificate spec, usage tables.
* ``signing``: certificates as the CA and SelfSigned issuers sign them.
* ``certificates``: parsing, chain ordering and verification, Secret annotations.
* ``renewal``: the renewal time, including ``spec.renewal`` windows (cron).
* ``keystores``: PKCS#12 profiles, JKS keystores, ``tls-combined.pem`` and ``key.der``.

Nothing here reads the clock, prints, or imports the CLI libraries.
"""
