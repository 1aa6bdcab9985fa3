"""Procedural multi-part object zoo (24 categories) and a loader for user mesh folders."""

from vantage.shapes import furniture, objects, vehicles  # noqa: F401  (register the zoo's categories)
from vantage.shapes.core import (
    CATEGORIES,
    Builder,
    Category,
    Part,
    ShapeObject,
    UnknownCategoryError,
    generate,
    get_category,
    in_domain_categories,
    out_of_domain_categories,
    register,
)

__all__ = [
    "CATEGORIES",
    "Builder",
    "Category",
    "Part",
    "ShapeObject",
    "UnknownCategoryError",
    "generate",
    "get_category",
    "in_domain_categories",
    "out_of_domain_categories",
    "register",
]
