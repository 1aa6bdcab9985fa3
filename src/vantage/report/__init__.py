"""Reports: plots (matplotlib) and the HTML page of a bench run."""

from vantage.report.html import write_report
from vantage.report.plots import view_sphere_plot

__all__ = ["view_sphere_plot", "write_report"]
