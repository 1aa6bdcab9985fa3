"""vantage: learning and measuring viewpoint-robust visual representations."""

from vantage.errors import VantageError

__version__ = "0.1.0"
__all__ = ["VantageError", "__version__"]
