"""One harness per DNS-01 provider, for the shared contract suite.

Each module defines a pytest fixture returning a :class:`ProviderHarness` for its
provider, talking to a real server or a strict fake started by the fixture. The
contract suite (``tests/integration/test_dns01_provider_contract.py``) imports every
harness fixture and runs the same tests over each: a provider is done when it passes.
"""
