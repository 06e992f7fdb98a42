"""federation-mailer: a newsletter sender for federations of organisations."""

__all__ = ["__version__"]

__version__ = "0.1.0"
