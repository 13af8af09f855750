#!/usr/bin/env python3
"""Headless-Chromium check of the web page of `modelprint serve`.

Starts the server (release build unless --binary) on the demo gallery, loads the page at 1280 and 360 px
wide, uploads a demo image the gallery does not hold, waits for the answer, asserts that the top model's
name is shown and equals the API's answer for the same image, and saves docs/figures/web-1280.png and
web-360.png.

    scripts/screenshot.py [--binary .build/release/modelprint] [--image data/demo/...png] [--out docs/figures]

Needs Debian's chromium and chromium-driver, and Selenium (pip install selenium). Not part of .ci/run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--binary", default=os.path.join(ROOT, ".build/release/modelprint"))
    p.add_argument("--image", default=os.path.join(ROOT, "data/demo/realesrgan-x4plus/010.png"))
    p.add_argument("--out", default=os.path.join(ROOT, "docs/figures"))
    p.add_argument("--port", type=int, default=18181)
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="modelprint-screenshot-")
    gallery = os.path.join(work, "gallery.sqlite")
    subprocess.run([os.path.join(ROOT, "scripts/demo-gallery.sh"), gallery, args.binary], check=True,
                   stdout=subprocess.DEVNULL)
    token = os.path.join(work, "token")
    with open(token, "w") as f:
        f.write("screenshot-token\n")
    server = subprocess.Popen([args.binary, "serve", "--gallery", gallery, "--port", str(args.port),
                               "--token-file", token], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with open(args.image, "rb") as f:
            request = urllib.request.Request(base + "/v1/identify", data=f.read(),
                                             headers={"Content-Type": "image/png"})
        expected = json.load(urllib.request.urlopen(request))["model"]
        os.makedirs(args.out, exist_ok=True)
        for width, height in [(1280, 1500), (360, 2600)]:
            options = webdriver.ChromeOptions()
            options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
            for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                         f"--window-size={width},{height}"]:
                options.add_argument(flag)
            driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                      options=options)
            try:
                driver.get(base + "/")
                WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#models li"))
                driver.find_element(By.ID, "file").send_keys(os.path.abspath(args.image))
                WebDriverWait(driver, 60).until(ec.visibility_of_element_located((By.ID, "explanation")))
                verdict = driver.find_element(By.ID, "verdict").text
                shown = expected if expected != "unknown" else "unknown"
                assert shown in verdict, f"the page shows '{verdict}', the API answered '{expected}'"
                ranking = driver.find_element(By.ID, "ranking").text
                assert ranking.split("\n")[0].strip(), "no ranked models shown"
                # The page's full height, so the screenshot holds every section.
                full = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(width, full + 20)
                time.sleep(0.5)
                path = os.path.join(args.out, f"web-{width}.png")
                driver.save_screenshot(path)
                print(f"{path}: {verdict!r} ({width} px wide)")
            finally:
                driver.quit()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
