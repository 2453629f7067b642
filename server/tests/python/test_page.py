"""The page at `/` in headless Chromium (Debian's `chromium` and `chromium-driver`), driven by
Selenium: it loads, a real speech file uploaded through it streams in as the exact sentence with
its segments' times, an error shows the server's own message, and the API key typed into it is
sent.
"""

import shutil
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait
from serving import EXPECTED, normalise, running_server

API_KEY = "page-test-key"


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("needs Debian's chromium and chromium-driver (scripts/install-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    with webdriver.Chrome(service=Service(driver), options=options) as session:
        yield session


@pytest.fixture(scope="module")
def server_url():
    with running_server("--api-key", API_KEY) as url:
        yield url


def transcribe(browser, url: str, audio: Path, response_format: str = "json", key: str = API_KEY):
    """Opens the page, fills it in, submits, and waits for it to finish or fail."""
    browser.get(f"{url}/")
    browser.find_element(By.ID, "file").send_keys(str(audio))
    Select(browser.find_element(By.ID, "format")).select_by_value(response_format)
    browser.find_element(By.ID, "key").send_keys(key)
    browser.find_element(By.ID, "go").click()

    def settled(driver):
        status = driver.find_element(By.ID, "status").text
        error = driver.find_element(By.ID, "error").text
        return (status.startswith("Done") or error) and (status, error)

    return WebDriverWait(browser, 120).until(settled)


def test_the_page_loads_with_its_form_and_links(browser, server_url):
    browser.get(f"{server_url}/")
    assert browser.title == "whisper-server"
    links = [a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")]
    assert f"{server_url}/metrics" in links and f"{server_url}/v1/models" in links
    policy = requests.get(f"{server_url}/", timeout=10).headers["content-security-policy"]
    assert "connect-src 'self'" in policy


def test_speech_streams_in_as_the_sentence_with_segment_times(browser, server_url, speech):
    status, error = transcribe(browser, server_url, speech)
    assert not error, error
    assert normalise(browser.find_element(By.ID, "result").text) == normalise(EXPECTED)
    segments = browser.find_elements(By.CSS_SELECTOR, "#segments li")
    assert segments, "no segment rows"
    assert segments[0].find_element(By.CLASS_NAME, "time").text.startswith("0:00.00 →")
    assert normalise(" ".join(s.text for s in segments)).endswith(normalise(EXPECTED))


def test_a_format_with_times_shows_the_whole_body(browser, server_url, speech):
    status, error = transcribe(browser, server_url, speech, response_format="srt")
    assert not error, error
    result = browser.find_element(By.ID, "result").text
    assert result.startswith("1\n00:00:00,000 --> "), result
    assert normalise(EXPECTED) in normalise(result)


def test_a_text_file_as_audio_shows_the_servers_message(browser, server_url, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("These are meeting notes, not audio.\n" * 20)
    answer = requests.post(
        f"{server_url}/v1/audio/transcriptions",
        files={"file": ("notes.txt", notes.read_bytes())},
        data={"stream": "true"},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60,
    )
    assert answer.status_code in (400, 415)
    status, error = transcribe(browser, server_url, notes)
    assert error == answer.json()["error"]["message"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#segments li")


def test_without_the_api_key_the_page_shows_the_401_message(browser, server_url, speech):
    status, error = transcribe(browser, server_url, speech, key="")
    assert "API key" in error, error
