"""The comparison viewer: its data, and the page in a real headless Chromium (Debian's chromium and
chromedriver, driven by Selenium with both paths given, so nothing is downloaded): no console errors, the
leaderboard sorts from mouse and keyboard, a finding filter shows exactly the studies the labels say, and a
study's labels equal `radzoo label`."""

from __future__ import annotations

import csv
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from viewer_fixture import SHIFTS, small_comparison

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE_SIZE = 8  # the 20 test studies span three pages, so paging is exercised too
SHARD_SIZE = 4  # and five shard files: page 1 needs shards 0-1, page 2 shards 2-3, page 3 shards 4-5


def _driver():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser test: {message}")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--allow-file-access-from-files"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """The small comparison, its viewer rebuilt by `radzoo view` with a small page size."""
    from radzoo.cli import main

    out = small_comparison(tmp_path_factory.mktemp("viewer"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(importlib.import_module("radzoo.comparison.viewer.page"), "PAGE_SIZE", PAGE_SIZE)
        patch.setattr(importlib.import_module("radzoo.comparison.viewer.page"), "SHARD_SIZE", SHARD_SIZE)
        assert main(["view", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def browser(out):
    driver = _driver()
    driver.get((out / "viewer" / "index.html").as_uri())
    yield driver
    driver.quit()


def _board_order(browser) -> list[str]:
    return [r.get_attribute("data-system") for r in browser.find_elements("css selector", "#board tbody tr")]


def _settled(browser) -> None:
    """Wait until the study page on screen is complete (its shard scripts loaded, its cards built)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(
        lambda b: b.find_element("id", "cards").get_attribute("aria-busy") == "false")


def _shown_studies(browser) -> list[str]:
    """Every study card over all pages (clicking Next until it is disabled)."""
    from selenium.webdriver.common.by import By

    ids = []
    while True:
        _settled(browser)
        ids += [c.get_attribute("data-study") for c in browser.find_elements(By.CSS_SELECTOR, "#cards .card")]
        button = browser.find_element(By.CSS_SELECTOR, ".pager .next")
        if not button.is_enabled():
            return ids
        button.click()


def _labels_by_cli(reports: list[str], tmp_path: Path) -> list[list[str]]:
    """The 14 label cells `radzoo label` writes for each report (the CLI in a subprocess)."""
    source, target = tmp_path / "reports.csv", tmp_path / "labels.csv"
    with source.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([["report"], *[[r] for r in reports]])
    subprocess.run([sys.executable, "-m", "radzoo.cli", "label", str(source), "--out", str(target)], check=True,
                   capture_output=True)
    with target.open(newline="", encoding="utf-8") as stream:
        return [row[1:] for row in list(csv.reader(stream))[1:]]


def test_page_loads_without_console_errors(browser) -> None:
    _settled(browser)
    assert browser.find_elements("css selector", "#cards .card")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    images = browser.find_elements("css selector", "main img")  # the closed dialog has none yet
    assert images and all(img.get_attribute("alt") for img in images)
    DOCS.mkdir(exist_ok=True)
    browser.save_screenshot(str(DOCS / "viewer.png"))


def test_leaderboard_sorts_by_click_and_by_keyboard(browser, out) -> None:
    from selenium.webdriver.common.keys import Keys

    board = json.loads((out / "leaderboard.json").read_text())
    value = {r["name"]: r["metrics"] for r in board["rows"]}
    headline = board["headline"]
    assert _board_order(browser) == [r["name"] for r in board["rows"]]  # the leaderboard's own ranking first
    button = browser.find_element("css selector", f'#board button[data-sort="{headline}"]')
    button.click()
    best_first = sorted(value, key=lambda n: -value[n][headline]["value"])
    assert _board_order(browser) == best_first
    browser.find_element("css selector", f'#board button[data-sort="{headline}"]').click()
    assert _board_order(browser) == best_first[::-1]
    key = browser.find_element("css selector", '#board button[data-sort="bleu_4"]')
    key.send_keys(Keys.ENTER)
    assert _board_order(browser) == sorted(value, key=lambda n: -value[n]["bleu_4"]["value"])
    header = browser.find_element("css selector", '#board th[aria-sort]')
    assert header.get_attribute("aria-sort") == "descending" and "bleu_4" in header.text


def test_finding_filter_shows_exactly_the_studies_with_that_finding(browser, out) -> None:
    from selenium.webdriver.support.ui import Select

    from radzoo.comparison.viewer.comparison_files import test_studies
    from radzoo.plugins.evaluators.chexpert_labeler import OBSERVATIONS, label_reports

    studies = test_studies(out)
    labels = label_reports([s.report or "" for s in studies])
    assert len(_shown_studies(browser)) == len(studies)  # unfiltered: every study, over three pages
    checked = 0
    for obs in ("Pleural Effusion", "Support Devices", "No Finding"):
        k = OBSERVATIONS.index(obs)
        expected = [str(s.id) for s, row in zip(studies, labels) if row[k] == 1.0]
        Select(browser.find_element("id", "f-finding")).select_by_value(obs)
        assert _shown_studies(browser) == expected, obs
        checked += bool(expected) and len(expected) < len(studies)
    assert checked >= 2  # the filter kept some studies and dropped others
    Select(browser.find_element("id", "f-finding")).select_by_value("")


def test_labels_shown_for_a_study_equal_radzoo_label(browser, out, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    from radzoo.comparison.viewer.comparison_files import read_comparison

    comparison = read_comparison(out)
    study = comparison.studies[0]
    names = ["reference", *(r["name"] for r in comparison.board["rows"])]
    reports = [study.report or ""] + [comparison.predictions[n][str(study.id)] for n in names[1:]]
    expected = _labels_by_cli(reports, tmp_path)
    _settled(browser)
    card = browser.find_element(By.CSS_SELECTOR, f'.card[data-study="{study.id}"]')
    for name, want in zip(names, expected, strict=True):
        chips = card.find_elements(By.CSS_SELECTOR, f'.report[data-system="{name}"] .chip')
        assert [c.get_attribute("data-label") for c in chips] == want, name
    assert any(w != expected[0] for w in expected[1:])  # the systems' labels differ from the reference's


def test_error_filter_and_image_dialog(browser, out) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    from radzoo.comparison.viewer.comparison_files import read_comparison
    from radzoo.plugins.evaluators.chexpert_labeler import label_reports

    comparison = read_comparison(out)
    name = next(iter(SHIFTS))
    refs = label_reports([s.report or "" for s in comparison.studies])
    preds = label_reports([comparison.predictions[name][str(s.id)] for s in comparison.studies])
    invents = [str(s.id) for s, r, p in zip(comparison.studies, refs, preds)
               if any(pv == 1.0 and rv not in (1.0, -1.0) and pv != -1.0 for rv, pv in zip(r, p))]
    Select(browser.find_element("id", "f-system")).select_by_value(name)
    Select(browser.find_element("id", "f-error")).select_by_value("invent")
    assert _shown_studies(browser) == invents and invents
    Select(browser.find_element("id", "f-error")).select_by_value("")
    _settled(browser)
    browser.find_element(By.CSS_SELECTOR, ".card .thumb").send_keys(Keys.ENTER)
    dialog = browser.find_element("id", "zoom")
    assert dialog.get_attribute("open") is not None
    assert browser.find_element("id", "zoom-img").get_attribute("alt").startswith("Chest X-ray of study")
    dialog.send_keys(Keys.ESCAPE)
    assert dialog.get_attribute("open") is None


def test_view_of_a_folder_without_a_comparison_is_one_line(tmp_path, capsys) -> None:
    from radzoo.cli import main

    assert main(["view", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no leaderboard.json" in err and "Traceback" not in err


def test_chromium_is_debians(out) -> None:
    """The browser the test drives is the system package, not a download (no selenium cache of browsers)."""
    if shutil.which("chromium") is None and os.environ.get("CI") != "true":
        pytest.skip("chromium not installed")
    assert shutil.which("chromium") == CHROMIUM


def _embedded(out: Path) -> dict:
    html = (out / "viewer" / "index.html").read_text(encoding="utf-8")
    start = html.index('id="viewer-data">') + len('id="viewer-data">')
    return json.loads(html[start:html.index("</script>", start)])


def test_finding_tables_average_to_the_leaderboard_values(out) -> None:
    data, board = _embedded(out), json.loads((out / "leaderboard.json").read_text())
    for row in board["rows"]:
        for subset in ("14", "5"):
            table = data["findings"]["tables"][subset]
            f1 = table["systems"][row["name"]]["f1"]
            micro, macro = f1[table["rows"].index("micro average")], f1[table["rows"].index("macro average")]
            assert micro[0] == pytest.approx(row["metrics"][f"chexpert_micro_f1_{subset}"]["value"], abs=5e-4)
            assert macro[0] == pytest.approx(row["metrics"][f"chexpert_macro_f1_{subset}"]["value"], abs=5e-4)
            assert micro[1] <= micro[0] <= micro[2]
    from radzoo.comparison.viewer.comparison_files import test_studies
    from radzoo.plugins.evaluators.chexpert_labeler import label_reports

    labels = label_reports([s.report or "" for s in test_studies(out)])
    table = data["findings"]["tables"]["14"]
    assert table["reference_positives"] == [sum(row[k] in (1.0, -1.0) for row in labels) for k in range(14)]


def _shards(out: Path) -> list[dict]:
    """Each shard script's data, in shard order (the script is one radzooStudies(k, JSON) call)."""
    files = sorted((out / "viewer" / "data").glob("studies-*.js"))
    calls = [f.read_text(encoding="utf-8").strip() for f in files]
    assert all(c.startswith(f"radzooStudies({k},") and c.endswith(");") for k, c in enumerate(calls))
    return [json.loads(c[c.index(",") + 1:-2]) for c in calls]


def test_page_is_self_contained(out) -> None:
    html = (out / "viewer" / "index.html").read_text(encoding="utf-8")
    assert "http://" not in html.split('id="viewer-data"')[0] and "https://" not in html.split('id="viewer-data"')[0]
    images = [image for shard in _shards(out) for image in shard["images"]]
    assert len(images) == 20 and all((out / "viewer" / i["thumb"]).is_file() and (out / "viewer" / i["full"]).is_file()
                                     for i in images)
    assert all(p["src"].startswith("data:image/png;base64,") for p in _embedded(out)["plots"].values())


def _loaded_shards(browser) -> list[int]:
    """The shard scripts the page has run (file:// loads leave no resource-timing entries to read instead)."""
    return sorted(browser.execute_script("return [...shards.keys()]"))


def test_report_texts_load_a_page_at_a_time_from_shard_scripts(out, tmp_path) -> None:
    """The page embeds no report text; opening it loads the first page's shards (and the next page's, ahead),
    paging on loads the rest, and the texts shown are the comparison's; a missing shard is a clear message."""
    from selenium.webdriver.common.by import By

    from radzoo.comparison.viewer.comparison_files import read_comparison

    comparison = read_comparison(out)
    html = (out / "viewer" / "index.html").read_text(encoding="utf-8")
    assert not [s.id for s in comparison.studies if (s.report or "x") in html]  # references live in the shards
    shards = _shards(out)
    assert [len(s["reference"]) for s in shards] == [4, 4, 4, 4, 4]
    assert [r for s in shards for r in s["reference"]] == [s.report or "" for s in comparison.studies]
    driver = _driver()
    try:
        driver.get((out / "viewer" / "index.html").as_uri())
        _settled(driver)
        assert _loaded_shards(driver) == [0, 1, 2, 3]  # page 1 (studies 1-8) and, ahead, page 2; not shard 4
        for _ in range(2):
            driver.find_element(By.CSS_SELECTOR, ".pager .next").click()
            _settled(driver)
        assert _loaded_shards(driver) == [0, 1, 2, 3, 4]
        name = next(iter(SHIFTS))
        for card in driver.find_elements(By.CSS_SELECTOR, "#cards .card"):
            study = card.get_attribute("data-study")
            shown = card.find_element(By.CSS_SELECTOR, f'.report[data-system="{name}"] p').text
            assert shown == comparison.predictions[name][study], study
        # a viewer folder copied without its data/ shards says what is missing instead of showing nothing
        copy = tmp_path / "viewer"
        shutil.copytree(out / "viewer", copy)
        (copy / "data" / "studies-00000.js").unlink()
        driver.get((copy / "index.html").as_uri())
        _settled(driver)
        alert = driver.find_element(By.CSS_SELECTOR, "#cards .load-error").text
        assert "data/studies-00000.js" in alert and "radzoo view" in alert
        assert driver.find_elements(By.CSS_SELECTOR, "#board tbody tr")  # the leaderboard still shows
    finally:
        driver.quit()
