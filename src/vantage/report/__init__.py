"""Reports: plots (matplotlib), the HTML page of a bench run, and Markdown tables for the docs."""

from vantage.report.html import write_report
from vantage.report.markdown import markdown_report
from vantage.report.plots import depth_panel, error_histograms, sphere_value_plot, view_sphere_plot

__all__ = [
    "depth_panel",
    "error_histograms",
    "markdown_report",
    "sphere_value_plot",
    "view_sphere_plot",
    "write_report",
]
