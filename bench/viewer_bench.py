"""Size of a comparison's viewer and its open time in headless Chromium (Debian's chromium + chromedriver).

Run: python bench/viewer_bench.py [OUT]  (default radzoo-demo; writes bench/results/viewer.json and
docs/demo_viewer.png)
Figures: the page and its images in bytes; the build time of `radzoo view`; per load, the time from
navigation start to the first study cards on screen and to the load event (median of LOADS loads, cold and warm).
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from pathlib import Path

from radzoo.comparison.viewer import build_viewer

LOADS = 5
RESULTS = Path(__file__).parent / "results" / "viewer.json"
SCREENSHOT = Path(__file__).parents[1] / "docs" / "demo_viewer.png"  # the README's picture of the viewer


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"  # both paths given: Selenium Manager never downloads
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


TIMINGS = ("const n = performance.getEntriesByType('navigation')[0];"
           "const ready = performance.getEntriesByName('viewer-ready')[0];"
           "return {dom_content_loaded_ms: n.domContentLoadedEventEnd, load_event_ms: n.loadEventEnd,"
           " viewer_ready_ms: ready ? ready.startTime : null,"
           " cards_on_first_page: document.querySelectorAll('#cards .card').length};")


def _open_times(page: Path) -> list[dict[str, float]]:
    """Per load: ms from navigation start to the viewer's scripts done (cards on screen) and to the load event;
    "cold" in a fresh browser (nothing cached), "warm" on a reload in it."""
    times = []
    for _ in range(LOADS):
        driver = browser()
        try:
            for kind in ("cold", "warm"):
                began = time.perf_counter()
                driver.get(page.as_uri()) if kind == "cold" else driver.refresh()  # both return after load
                wall = (time.perf_counter() - began) * 1000
                times.append({"kind": kind, **driver.execute_script(TIMINGS), "driver_ms": wall})
        finally:
            driver.quit()
    return times


def _screenshot(page: Path) -> None:
    """The study browser filtered to studies with a pleural effusion in the reference, as the README shows it."""
    from selenium.webdriver.support.ui import Select

    driver = browser()
    try:
        driver.set_window_size(1400, 1100)
        driver.get(page.as_uri())
        Select(driver.find_element("id", "f-finding")).select_by_value("Pleural Effusion")
        driver.execute_script("document.getElementById('studies').scrollIntoView()")
        driver.save_screenshot(str(SCREENSHOT))
    finally:
        driver.quit()


def main(out_dir: str = "radzoo-demo") -> dict:
    out = Path(out_dir)
    began = time.perf_counter()
    page = build_viewer(out)
    build_s = time.perf_counter() - began
    files = [p for p in page.parent.rglob("*") if p.is_file()]
    data = json.loads((out / "leaderboard.json").read_text())
    loads = _open_times(page)
    result = {
        "comparison": str(out), "studies": len(list((page.parent / "images").glob("*.png"))),
        "systems": len(data["rows"]), "html_bytes": page.stat().st_size,
        "total_bytes": sum(p.stat().st_size for p in files), "files": len(files), "build_s": round(build_s, 2),
        **{f"{kind}_{key}_median": round(statistics.median(t[key] for t in loads if t["kind"] == kind))
           for kind in ("cold", "warm") for key in ("viewer_ready_ms", "load_event_ms")},
        "loads": loads, "browser": "Debian chromium, headless",
        "machine": f"{platform.processor() or platform.machine()}, shared 2-core CPU",
    }
    _screenshot(page)
    print(json.dumps({k: v for k, v in result.items() if k != "loads"}, indent=2))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:2])
