"""Render a vantage HTML page (report, report card, leaderboard) to a PNG for the docs.

No headless browser can be installed on the development machine (the browser builds are not on a package
registry), so this uses WeasyPrint's HTML/CSS layout engine (HTML -> PDF) and pdfium (PDF -> PNG) instead:
    pip install weasyprint pypdfium2          # not project dependencies
    python scripts/html_screenshot.py runs/encoders/leaderboard.html docs/report_card/leaderboard.png
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(page: str, out: str, width_px: int = 1400) -> None:
    import pypdfium2
    import weasyprint

    css = weasyprint.CSS(string=f"@page {{ size: {width_px}px 2400px; margin: 16px }} body {{ max-width: none }}")
    pdf = weasyprint.HTML(filename=page, base_url=str(Path(page).parent)).write_pdf(stylesheets=[css])
    doc = pypdfium2.PdfDocument(pdf)
    image = doc[0].render(scale=1.0).to_pil()
    bbox = image.convert("L").point(lambda v: 255 if v < 250 else 0).getbbox()  # crop the empty bottom
    if bbox:
        image = image.crop((0, 0, image.width, min(image.height, bbox[3] + 24)))
    image.save(out)
    print(f"wrote {out} ({image.width}x{image.height})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
