"""certctl: cert-manager's certificate lifecycle for every place a command can run."""

__version__ = "0.1.0"
__all__ = ["__version__"]
