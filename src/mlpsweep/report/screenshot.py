"""Look at the report as a person would: headless Chromium renders it to a PNG.

    python -m mlpsweep.report.screenshot results/mnist/report/report.html report.png

Needs Debian's ``chromium`` (or ``chromium-browser`` / ``google-chrome`` on
the PATH).  Used by the tests (is the page blank?) and for the README's
picture of a real report.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def browser() -> str | None:
    return next((path for path in map(shutil.which, BROWSERS) if path), None)


def render(html: Path, png: Path, width: int = 1200, height: int = 2400, timeout: float = 90) -> Path:
    exe = browser()
    if exe is None:
        raise RuntimeError("no Chromium found; install Debian's package chromium")
    png = Path(png).resolve()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                exe,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png}",
                Path(html).resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
    return png


if __name__ == "__main__":
    render(Path(sys.argv[1]), Path(sys.argv[2]), *(int(a) for a in sys.argv[3:5]))
