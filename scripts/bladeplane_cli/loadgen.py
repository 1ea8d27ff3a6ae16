"""A load generator on the host: threads making HTTP GET requests, each on
a new TCP connection (so each is a new flow for the switch), counting the
answers by the blade that gave them (`blade=NAME` in the body of the blade
image's /cgi-bin/work)."""

import collections
import http.client
import re
import threading
import time

BLADE_RE = re.compile(rb"\bblade=([A-Za-z0-9_.-]+)")


class LoadGenerator:
    def __init__(self, host, port, path="/cgi-bin/work?kb=64", threads=4,
                 timeout=30.0):
        self.host = host
        self.port = port
        self.path = path
        self.nthreads = threads
        self.timeout = timeout
        self.lock = threading.Condition()
        self.by_blade = collections.Counter()
        self.ok = 0
        self.failed = 0
        self.last_error = None
        self.latencies = []
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for i in range(self.nthreads):
            t = threading.Thread(target=self._loop, name=f"load{i}",
                                 daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _loop(self):
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                blade = self.request()
            except (OSError, http.client.HTTPException, ValueError) as e:
                with self.lock:
                    self.failed += 1
                    self.last_error = f"{type(e).__name__}: {e}"
                    self.lock.notify_all()
                # A refused or reset connection comes back at once: do not
                # spin on it.
                self.stopping.wait(0.5)
                continue
            with self.lock:
                self.ok += 1
                self.by_blade[blade] += 1
                self.latencies.append(time.monotonic() - start)
                self.lock.notify_all()

    def request(self):
        """One GET on a new connection; returns the blade that answered."""
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.timeout)
        try:
            conn.request("GET", self.path, headers={"Connection": "close"})
            resp = conn.getresponse()
            body = resp.read(4096)
        finally:
            conn.close()
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}: "
                             f"{body[:80].decode(errors='replace').strip()}")
        m = BLADE_RE.search(body)
        if not m:
            raise ValueError(f"no blade= in the answer "
                             f"{body[:80].decode(errors='replace')!r}")
        return m.group(1).decode()

    def wait_answers(self, n, timeout):
        """Wait until n requests were answered in all; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.ok < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
        return True

    def snapshot(self):
        with self.lock:
            return {"ok": self.ok, "failed": self.failed,
                    "by_blade": dict(self.by_blade),
                    "last_error": self.last_error}

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(self.timeout + 5)
        self.threads = []
