"""vantage: learning and measuring viewpoint-robust visual representations."""

__version__ = "0.1.0"
