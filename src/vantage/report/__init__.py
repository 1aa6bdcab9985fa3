"""Reports: plots (matplotlib) and the HTML page of a bench run."""

from vantage.report.html import write_report
from vantage.report.plots import depth_panel, error_histograms, sphere_value_plot, view_sphere_plot

__all__ = ["depth_panel", "error_histograms", "sphere_value_plot", "view_sphere_plot", "write_report"]
