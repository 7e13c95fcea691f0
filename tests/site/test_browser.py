"""The built site in headless Chromium, served on 127.0.0.1: search, navigation, sorting, no outside requests.

Uses Debian's chromium and chromedriver; nothing downloads a browser or a driver.
Screenshots of the home page and a solution page go to /tmp/shots/ for a person to look at.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SHOTS = Path("/tmp/shots")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-quic",
         "--window-size=1400,1000", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(f"browser test needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="browser test needs selenium (pip install -e '.[dev]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(synthetic_site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(synthetic_site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    os.environ["SE_OFFLINE"] = "true"  # selenium manager must never fetch anything
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait(driver, seconds=30):
    return WebDriverWait(driver, seconds)


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def search(driver, base, text) -> list[str]:
    driver.get(base)
    box = wait(driver).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "input.md-search__input")))
    box.click()
    box.send_keys(text)
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item a"))
    return [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item a")]


def test_site_in_chromium(server, browser):
    d = browser
    SHOTS.mkdir(parents=True, exist_ok=True)

    # search finds a model by its name and a trap by its title
    hits = search(d, server, "Synthetic Bravo")
    assert any("/models/synthetic-b/" in h for h in hits), hits
    hits = search(d, server, "Padding leaks")
    assert any("/challenges/alpha/" in h for h in hits), hits

    # a grade-matrix cell navigates to its solution page (instant navigation)
    d.get(server)
    d.set_window_size(1400, 1000)
    d.save_screenshot(str(SHOTS / "home.png"))
    cell = wait(d).until(EC.element_to_be_clickable(
        (By.CSS_SELECTOR, "article table td a[href$='solutions/synthetic-a/alpha/']")))
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    cell.click()
    wait(d).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "article h1"), "Synthetic Alpha Model · Alpha Attention"))
    assert d.current_url.endswith("/solutions/synthetic-a/alpha/")
    d.save_screenshot(str(SHOTS / "solution.png"))

    # tables sort by a click on a header, also on a page reached by instant navigation
    link = d.find_element(By.CSS_SELECTOR, "article a[href$='challenges/alpha/']")
    link.click()
    wait(d).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "article h1"), "Alpha Attention"))
    table = wait(d).until(lambda drv: next(t for t in drv.find_elements(By.CSS_SELECTOR, "article table")
                                           if "Judge grade" in t.find_element(By.TAG_NAME, "thead").text))
    headers = [th.text.strip(" ↕▲▼") for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    col = headers.index("err")
    header = table.find_elements(By.CSS_SELECTOR, "thead th")[col]

    def column():
        return [row.find_elements(By.TAG_NAME, "td")[col].text for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]

    before = column()
    header.click()
    ascending = column()
    assert ascending[:3] == ["1.1e-16", "2.5e-16", "3.1"], ascending
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    descending = column()
    assert descending[:3] == ["3.1", "2.5e-16", "1.1e-16"], descending
    assert sorted(before) == sorted(ascending)  # rows moved, none lost

    # the claims page filters its table by model and verdict, offline, in the browser
    from selenium.webdriver.support.ui import Select

    d.get(server + "claims/")
    form = wait(d).until(EC.presence_of_element_located((By.CSS_SELECTOR, "form.lb-filter[data-lb-ready]")))
    table = next(t for t in d.find_elements(By.CSS_SELECTOR, "article table")
                 if "Decided by" in t.find_element(By.TAG_NAME, "thead").text)

    def visible_claims():
        return [r.find_elements(By.TAG_NAME, "td")[0].text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")
                if r.is_displayed()]

    assert len(visible_claims()) == 9
    Select(form.find_element(By.CSS_SELECTOR, "select[data-col='6']")).select_by_value("contradicted")
    assert visible_claims() == ["Bravo's rescaling is right too."]
    Select(form.find_element(By.CSS_SELECTOR, "select[data-col='6']")).select_by_value("")
    Select(form.find_element(By.CSS_SELECTOR, "select[data-col='1']")).select_by_value("Synthetic Bravo")
    assert len(visible_claims()) == 4
    assert form.find_element(By.CSS_SELECTOR, ".lb-filter-count").text == "4 of 9 shown"
    d.save_screenshot(str(SHOTS / "claims.png"))

    # no request left localhost, and no console errors
    urls = requested_urls(d)
    assert urls and all(u.startswith((server, "data:", "blob:")) for u in urls), [u for u in urls if not u.startswith(server)]
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


# ---- the site as its readers use it (issue 16): layout, legend, home page, search, paths ----------

def pages_of(site: Path, prefix: str) -> list[str]:
    return sorted(p.parent.relative_to(site).as_posix() + "/" for p in (site / prefix).rglob("index.html"))


def overflow(driver, selector: str) -> list[str]:
    """Elements matching selector (and the page itself) whose content is wider than their box."""
    return driver.execute_script("""
        var out = [];
        if (document.documentElement.scrollWidth > window.innerWidth + 1)
            out.push('page ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
        document.querySelectorAll(arguments[0]).forEach(function (el) {
            var box = el.closest('.md-typeset__scrollwrap') || el.parentElement;
            [el, box].forEach(function (e) {
                if (e.scrollWidth > e.clientWidth + 1) out.push(e.className + ' ' + e.scrollWidth + ' > ' + e.clientWidth);
            });
        });
        return out;""", selector)


def test_home_matrix_fits_1400px(server, browser):
    browser.set_window_size(1400, 1800)
    browser.get(server)
    matrix = wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".lb-matrix table")))
    assert matrix.find_elements(By.CSS_SELECTOR, "tbody tr"), "the compact matrix has rows"
    assert overflow(browser, ".lb-matrix table") == []


def test_no_solution_summary_overflows_at_390px(server, browser, synthetic_site):
    browser.set_window_size(390, 2000)
    pages = pages_of(synthetic_site, "solutions")
    assert len(pages) >= 10
    for page in pages:
        browser.get(server + page)
        summary = wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "h2#summary + * table, "
                                                                                        "h2#summary + table")))
        assert summary.is_displayed()
        assert overflow(browser, "h2#summary + * table, h2#summary + table") == [], page
    browser.set_window_size(1400, 1000)


def test_home_lists_contradicted_grades_and_both_rankings(server, browser):
    browser.get(server)
    heading = wait(browser).until(EC.presence_of_element_located((By.ID, "grades-the-evidence-contradicts")))
    items = heading.find_elements(By.XPATH, "following-sibling::ul[1]/li")
    assert len(items) == 1, [i.text for i in items]  # Bravo's A- on alpha; Delta's gaps raise none
    assert "Synthetic Bravo" in items[0].text and "falls into a trap" in items[0].text
    assert items[0].find_element(By.TAG_NAME, "a").get_attribute("href").endswith("/solutions/synthetic-b/alpha/")
    heads = [th.text.strip(" ↕▲▼") for th in browser.find_elements(By.CSS_SELECTOR, ".lb-pair thead th")]
    assert "Average grade (judge)" in heads and "Traps avoided" in heads  # published beside evidence
    assert "3 of 3 (100%)" in browser.find_element(By.CSS_SELECTOR, ".lb-pair").text  # with its denominator


def test_every_status_glyph_on_a_page_has_its_legend_entry(server, browser, synthetic_site):
    pages = ["", "challenges/alpha/", "challenges/beta/", "models/synthetic-d/", "analysis/synthetic/",
             *pages_of(synthetic_site, "solutions")]
    seen = set()
    for page in pages:
        browser.get(server + page)
        wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, "article h1")))
        used, explained, flag_used, flag_explained = browser.execute_script("""
            var used = new Set(), explained = new Set();
            document.querySelectorAll('article .lb-mark').forEach(function (el) {
                var kind = Array.from(el.classList).find(function (c) { return c !== 'lb-mark' && c.startsWith('lb-'); });
                var glyph = el.textContent.trim().charAt(0);
                (el.closest('.lb-legend') ? explained : used).add(kind + ' ' + glyph);
            });
            var flags = document.querySelectorAll('article .lb-flag');
            var inLegend = Array.from(flags).filter(function (f) { return f.closest('.lb-legend'); }).length;
            return [Array.from(used), Array.from(explained), flags.length - inLegend > 0, inLegend > 0];""")
        missing = set(used) - set(explained)
        assert not missing, (page, missing)
        assert flag_explained or not flag_used, page
        legend = browser.find_elements(By.CSS_SELECTOR, "article .lb-legend a")
        assert not used or any(a.get_attribute("href").endswith("/statuses/") for a in legend), page
        seen.update(used)
    assert {k.split()[0] for k in seen} >= {"lb-ok", "lb-bad", "lb-time", "lb-gap", "lb-none", "lb-warn"}, seen


def test_search_for_a_model_name_lists_its_model_page_first(server, browser):
    for name, page in [("Synthetic Delta", "/models/synthetic-d/"), ("Synthetic Bravo", "/models/synthetic-b/")]:
        hits = search(browser, server, name)
        from urllib.parse import urlsplit

        assert urlsplit(hits[0]).path.endswith(page), hits[:4]
    hits = search(browser, server, "fused_kernel")  # a name a solution defines, found on its page
    assert any("/solutions/synthetic-d/beta/" in h for h in hits), hits


def test_no_page_shows_a_path_of_the_build_machine(server, browser, synthetic_site, synthetic_root):
    import re

    machine = re.compile(r"(?<![\w.])/(?:work|tmp|home|root|Users)/")
    for page in ["", "challenges/alpha/", "challenges/beta/", "models/synthetic-d/", *pages_of(synthetic_site, "solutions")]:
        browser.get(server + page)
        text = wait(browser).until(EC.presence_of_element_located((By.TAG_NAME, "body"))).get_attribute("textContent")
        titles = " ".join(e.get_attribute("title") or "" for e in browser.find_elements(By.CSS_SELECTOR, "[title]"))
        assert str(synthetic_root) not in text + titles, page
        assert not machine.search(text + " " + titles), (page, machine.search(text + " " + titles).group(0))
