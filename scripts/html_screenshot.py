"""Screenshot a vantage HTML page (report, report card, leaderboard) for the docs with headless Chromium.

Needs a Chromium or Chrome binary (Debian: `apt-get install chromium`); not a project dependency. The page is
drawn in a tall window and the empty space below it is cropped:
    scripts/venv-run python scripts/html_screenshot.py runs/encoders/leaderboard.html docs/report_card/leaderboard.png
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Flags for a closed network: no background connections, no first-run or component updates, no GPU.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")  # fmt: skip


def main(page: str, out: str, width_px: int = 1400, height_px: int = 3000) -> None:
    from PIL import Image

    browser = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if browser is None:
        sys.exit(f"error: no Chromium found (looked for {', '.join(BROWSERS)}); apt-get install chromium")
    with tempfile.TemporaryDirectory() as profile:
        shot = Path(profile) / "shot.png"
        subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width_px},{height_px}",
                        f"--screenshot={shot}", Path(page).resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        image = Image.open(shot).convert("RGB")
    bbox = image.convert("L").point(lambda v: 255 if v < 250 else 0).getbbox()  # crop the empty bottom
    if bbox:
        image = image.crop((0, 0, image.width, min(image.height, bbox[3] + 24)))
    image.save(out)
    print(f"wrote {out} ({image.width}x{image.height}) with {Path(browser).name}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
