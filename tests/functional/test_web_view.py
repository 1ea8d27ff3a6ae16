"""The web view (`scripts/bladeplane web`) in a real browser: Debian's
chromium, headless, driven through chromium-driver by python3-selenium,
on a chassis with two booted blades.

The page exposes its state for this: one `article.blade` per blade with
data-in-rotation, data-alive, data-cpu, data-plotted-cpu (the last
point of the blade's CPU line in its Chart.js chart) and data-reports,
the graph's slots with data-state, and body[data-connected] and
body[data-seq].  Every wait polls that state against a deadline; how soon
the page shows a change is asserted in page updates and the blade's
reports, not in seconds.  Each test saves a screenshot in
build/logs/functional/."""

import os
import signal
import subprocess
import sys
import time
import unittest

from bptest import REPO, TopologyTestCase, free_port
from bladeplane_cli.common import LOGS, ensure_dir

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Debian's python3-selenium, for a Python of its own (pyenv, a venv) that
# does not look in the system's directory.
DEBIAN_PYTHON = "/usr/lib/python3/dist-packages"
SHOTS = os.path.join(LOGS, "functional")
DEADLINE = 30               # seconds for the page to show a change
BUSY = "b1"                 # gets the hog
KILLED = "b0"               # killed at the end


def selenium_webdriver():
    """selenium.webdriver, or None without python3-selenium."""
    try:
        from selenium import webdriver
    except ImportError:
        if DEBIAN_PYTHON in sys.path or not os.path.isdir(DEBIAN_PYTHON):
            return None
        sys.path.append(DEBIAN_PYTHON)
        try:
            from selenium import webdriver
        except ImportError:
            return None
    return webdriver


def browser_missing():
    """Why the browser test cannot run here, or None."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return "no chromium and chromium-driver (setup installs them)"
    if selenium_webdriver() is None:
        return "no python3-selenium (setup installs it)"
    if not os.path.exists("/usr/share/javascript/chart.js"):
        return "no libjs-chart.js (setup installs it)"
    return None


# The state a test reads from the page: per blade its data-* attributes,
# the state of its slot in the graph and whether its chart is drawn.
PAGE_STATE = """
const out = {connected: document.body.dataset.connected,
             conn: document.getElementById("conn").dataset.state,
             seq: Number(document.body.dataset.seq), blades: {}};
for (const e of document.querySelectorAll("article.blade")) {
  const slot = document.querySelector(
    `#graph g.slot[data-chassis="${e.dataset.chassis}"]` +
    `[data-blade="${e.dataset.blade}"]`);
  const chart = window.Chart ? Chart.getChart(e.querySelector("canvas"))
                             : null;
  const cpu = chart ? chart.data.datasets[0].data : [];
  out.blades[e.dataset.blade] = {
    id: e.dataset.id, inRotation: e.dataset.inRotation,
    alive: e.dataset.alive, reason: e.dataset.reason,
    cpu: e.dataset.cpu === "" ? null : Number(e.dataset.cpu),
    plottedCpu: e.dataset.plottedCpu === "" ? null
                                            : Number(e.dataset.plottedCpu),
    chartLastCpu: cpu.length ? cpu[cpu.length - 1].y : null,
    points: Number(e.dataset.points),
    reports: e.dataset.reports === "" ? null : Number(e.dataset.reports),
    slotState: slot ? slot.dataset.state : null};
}
return out;
"""


@unittest.skipIf(browser_missing(), browser_missing() or "")
class WebViewTest(TopologyTestCase):
    NAME = "fn-web"
    TOPOLOGY = """\
[[chassis]]
name = "c1"
slots = 2
[chassis.uplink]
forward = ["tcp:127.0.0.1:{port}-10.0.2.100:80"]
[[chassis.blade]]
slot = 0
name = "b0"
[[chassis.blade]]
slot = 1
name = "b1"
[[chassis.service]]
name = "web"
vip = "10.0.2.100"
port = 80
policy = "util"
"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.web = cls.driver = None
        try:
            cls.start_web()
            cls.start_browser()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_web(cls):
        """`bladeplane web` on a free port, as a user starts it."""
        cls.web_port = free_port()
        cls.web = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "scripts", "bladeplane"),
             "web", cls.NAME, "--port", str(cls.web_port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = cls.web.stdout.readline()
        if not line.startswith(f"web view of topology {cls.NAME}: "):
            cls.web.wait(10)
            raise AssertionError(f"bladeplane web: {line}"
                                 f"{cls.web.stdout.read()}")
        cls.url = f"http://127.0.0.1:{cls.web_port}/"

    @classmethod
    def start_browser(cls):
        webdriver = selenium_webdriver()
        from selenium.webdriver.chrome.service import Service
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1300"):
            options.add_argument(arg)
        cls.driver = webdriver.Chrome(service=Service(CHROMEDRIVER),
                                      options=options)
        cls.driver.set_page_load_timeout(30)
        cls.driver.set_script_timeout(10)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "driver", None) is not None:
            cls.driver.quit()
        web = getattr(cls, "web", None)
        if web is not None:
            if web.poll() is None:
                web.send_signal(signal.SIGINT)
                try:
                    web.wait(10)
                except subprocess.TimeoutExpired:
                    web.kill()
                    web.wait()
            web.stdout.close()
        super().tearDownClass()

    # ---- helpers ---------------------------------------------------------

    def page(self):
        return self.driver.execute_script(PAGE_STATE)

    def wait_page(self, what, ok, timeout=DEADLINE):
        """Poll the page's state until ok(state); returns the state and
        the seconds it took."""
        start = time.monotonic()
        while True:
            state = self.page()
            if ok(state):
                return state, time.monotonic() - start
            if time.monotonic() - start > timeout:
                self.shot("timeout")
                self.fail(f"{what}: not within {timeout} s; the page "
                          f"shows {state}")
            time.sleep(0.2)

    def shot(self, suffix=""):
        name = self.id().rsplit(".", 1)[-1] + (f"-{suffix}" if suffix
                                                else "")
        path = os.path.join(ensure_dir(SHOTS), f"{name}.png")
        self.driver.save_screenshot(path)
        return path

    def blade_pid(self, name):
        return next(p["pid"] for p in self.topo_run.processes()
                    if p["kind"] == "blade" and p["name"] == name)

    # ---- tests -----------------------------------------------------------

    def test_web_1_page_lists_the_blades(self):
        self.driver.get(self.url)
        state, _ = self.wait_page(
            "both blades in rotation on a live page",
            lambda s: s["connected"] == "true" and set(s["blades"]) ==
            {"b0", "b1"} and all(b["inRotation"] == "true" and
                                 b["points"] >= 2 and b["plottedCpu"]
                                 is not None
                                 for b in s["blades"].values()))
        self.assertEqual(state["conn"], "live")
        self.assertEqual({n: (b["id"], b["alive"], b["slotState"])
                          for n, b in state["blades"].items()},
                         {"b0": ("c1.b0", "true", "in"),
                          "b1": ("c1.b1", "true", "in")})
        title = self.driver.find_element("id", "topology").text
        self.assertEqual(title, self.NAME)
        self.assertTrue(self.shot())

    def test_web_2_a_hog_shows_in_the_blades_plot(self):
        self.driver.get(self.url)
        before, _ = self.wait_page(
            f"{BUSY}'s plotted CPU below 50 % before the hog",
            lambda s: BUSY in s["blades"] and
            s["blades"][BUSY]["plottedCpu"] is not None and
            s["blades"][BUSY]["plottedCpu"] < 50)
        con = self.blade_console(BUSY)
        try:
            start = time.monotonic()
            status, out = con.run("blade-hog start -n -10 1")
            self.assertEqual(status, 0, out)
            # The blade's reports counted by the second snapshot the page
            # got after the hog started: that snapshot was read after it.
            seq = self.page()["seq"]
            started, _ = self.wait_page(
                "two page updates after the hog started",
                lambda s: s["seq"] >= seq + 2)
            since = started["blades"][BUSY]["reports"]
            self.assertIsNotNone(since)
            # "Within a few seconds", counted in the blade's own reports
            # (one per UTIL_CFG interval, 100 ms by default) rather than
            # on a stopwatch: the first update that has two reports made
            # wholly under the hog shows it.
            after, _ = self.wait_page(
                f"{BUSY}'s next two utilization reports on the page",
                lambda s: (s["blades"][BUSY]["reports"] or 0) >= since + 2)
            took = time.monotonic() - start
            self.shot()
        finally:
            con.run("blade-hog stop")
            con.close()
        busy = after["blades"][BUSY]
        self.assertGreaterEqual(
            busy["plottedCpu"] or 0, 90,
            f"{BUSY}'s plot at the first update with two reports under the "
            f"hog: {after}")
        # The plot is the chart's own data, and it moved.
        self.assertEqual(busy["chartLastCpu"], busy["plottedCpu"])
        self.assertGreater(busy["points"], before["blades"][BUSY]["points"])
        print(f"\n    {BUSY}'s plot showed the hog after {took:.1f} s, "
              f"{busy['reports'] - since} reports after the update that "
              f"followed it ({before['blades'][BUSY]['plottedCpu']:.0f}% -> "
              f"{busy['plottedCpu']:.0f}%)", flush=True)

    def test_web_3_a_killed_blade_is_out_of_rotation(self):
        self.driver.get(self.url)
        self.wait_page(f"{KILLED} in rotation",
                       lambda s: KILLED in s["blades"] and
                       s["blades"][KILLED]["inRotation"] == "true")
        seq = self.page()["seq"]
        os.kill(self.blade_pid(KILLED), signal.SIGKILL)
        state, took = self.wait_page(
            f"{KILLED} out of rotation after kill -9",
            lambda s: s["blades"][KILLED]["inRotation"] == "false" and
            s["blades"][KILLED]["alive"] == "false")
        self.shot()
        # Its lane closed with the process: the switch knows at once, and
        # the page at its next update (the one under way may have been
        # read before the kill).
        self.assertLessEqual(state["seq"], seq + 2)
        killed = state["blades"][KILLED]
        self.assertEqual(killed["slotState"], "dead")
        # Its lane is down: its plot has a gap, not its last figures.
        self.assertIsNone(killed["plottedCpu"])
        self.assertNotEqual(killed["reason"], "in rotation")
        other = next(b for n, b in state["blades"].items() if n != KILLED)
        self.assertEqual(other["inRotation"], "true")
        print(f"\n    {KILLED} out of rotation on the page {took:.1f} s "
              f"and {state['seq'] - seq} update(s) after kill -9 "
              f"({killed['reason']})", flush=True)

    def test_web_4_a_silent_chassis_and_back(self):
        """The chassis stops answering (SIGSTOP): the page says
        disconnected, and is live again when it answers (SIGCONT)."""
        self.driver.get(self.url)
        self.wait_page("a live page", lambda s: s["connected"] == "true")
        pid = next(p["pid"] for p in self.topo_run.processes()
                   if p["kind"] == "chassis")
        os.kill(pid, signal.SIGSTOP)
        try:
            state, _ = self.wait_page(
                "disconnected while the chassis is stopped",
                lambda s: s["connected"] == "false")
            self.assertEqual(state["conn"], "disconnected")
            self.assertTrue(all(b["inRotation"] == "false"
                                for b in state["blades"].values()))
            self.shot("disconnected")
        finally:
            os.kill(pid, signal.SIGCONT)
        seq = state["seq"]
        self.wait_page("live again once the chassis answers",
                       lambda s: s["connected"] == "true" and
                       s["seq"] > seq)


if __name__ == "__main__":
    unittest.main()
