"""`python -m vantage` runs the CLI."""

from vantage.cli import main

main()
