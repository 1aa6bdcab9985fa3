"""Reports: plots (matplotlib), report blocks, the HTML page of a bench run, and Markdown tables for the docs."""

from vantage.report.blocks import (
    Block,
    Figure,
    KeyValues,
    Section,
    Table,
    Text,
    fmt_mean_std,
    fmt_signed,
    mean_of,
)
from vantage.report.html import render_html, write_report
from vantage.report.markdown import markdown_report, markdown_table
from vantage.report.plots import (
    accuracy_vs_distance,
    camera_frusta_plot,
    depth_panel,
    error_histograms,
    learning_curve_plot,
    retrieval_strip,
    sphere_value_plot,
    view_sphere_plot,
)

__all__ = [
    "Block",
    "Figure",
    "KeyValues",
    "Section",
    "Table",
    "Text",
    "accuracy_vs_distance",
    "camera_frusta_plot",
    "depth_panel",
    "error_histograms",
    "fmt_mean_std",
    "fmt_signed",
    "learning_curve_plot",
    "markdown_report",
    "markdown_table",
    "mean_of",
    "render_html",
    "retrieval_strip",
    "sphere_value_plot",
    "view_sphere_plot",
    "write_report",
]
