"""Load generators on the host, counting the answers by the blade that gave
them (`blade=NAME` in the body of the blade image's /cgi-bin/work, from
busybox httpd's CGI on port 80 or blade-httpd on port 8080).

- LoadGenerator: closed loop, threads each opening a TCP connection (a new
  flow for the switch) and sending `reqs` requests on it one after the
  other (1: one request a connection).
- OpenLoop: open loop, connections arriving as a Poisson process, each
  carrying `reqs` requests one after the other on the persistent
  connection (HTTP/1.1 keep-alive), each request's response time
  recorded.
"""

import collections
import concurrent.futures
import http.client
import random
import re
import threading
import time

BLADE_RE = re.compile(rb"\bblade=([A-Za-z0-9_.-]+)")
LOAD_ERRORS = (OSError, http.client.HTTPException, ValueError)


class Connection:
    """One HTTP connection to the service; get() may be called several
    times (keep-alive).  With close=True the last request asks the server
    to close (one request a connection, as busybox httpd does anyway)."""

    def __init__(self, host, port, timeout):
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)

    def get(self, path, close=False):
        """GET path; returns the blade that answered."""
        headers = {"Connection": "close"} if close else {}
        self.conn.request("GET", path, headers=headers)
        resp = self.conn.getresponse()
        body = resp.read(4096)
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}: "
                             f"{body[:80].decode(errors='replace').strip()}")
        m = BLADE_RE.search(body)
        if not m:
            raise ValueError(f"no blade= in the answer "
                             f"{body[:80].decode(errors='replace')!r}")
        return m.group(1).decode()

    def close(self):
        self.conn.close()


class LoadGenerator:
    def __init__(self, host, port, path="/cgi-bin/work?kb=64", threads=4,
                 timeout=30.0, reqs=1, tag=None):
        """tag: a function called as each connection starts; its requests'
        response times are kept in tagged[its value] as well."""
        self.host = host
        self.port = port
        self.path = path
        self.reqs = reqs
        self.tag = tag
        self.tagged = collections.defaultdict(list)
        self.nthreads = threads
        self.timeout = timeout
        self.lock = threading.Condition()
        self.by_blade: collections.Counter[str] = collections.Counter()
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
            conn = Connection(self.host, self.port, self.timeout)
            tag = self.tag() if self.tag else None
            try:
                for i in range(self.reqs):
                    if self.stopping.is_set():
                        break
                    start = time.monotonic()
                    blade = conn.get(self.path, close=i == self.reqs - 1)
                    with self.lock:
                        self.ok += 1
                        self.by_blade[blade] += 1
                        self.latencies.append(time.monotonic() - start)
                        if self.tag:
                            self.tagged[tag].append(self.latencies[-1])
                        self.lock.notify_all()
            except LOAD_ERRORS as e:
                with self.lock:
                    self.failed += 1
                    self.last_error = f"{type(e).__name__}: {e}"
                    self.lock.notify_all()
                # A refused or reset connection comes back at once: do not
                # spin on it.
                self.stopping.wait(0.5)
            finally:
                conn.close()

    def request(self):
        """One GET on a new connection; returns the blade that answered."""
        conn = Connection(self.host, self.port, self.timeout)
        try:
            return conn.get(self.path, close=True)
        finally:
            conn.close()

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


class OpenLoop:
    """Open-loop load: connections arrive as a Poisson process at `rate`
    per second for `seconds`; each sends `reqs` GETs of `path` one after
    the other on the same connection (reqs=1: one request, then close).

    A request's response time runs from when it was sent to the end of
    its answer; the first one's from when its connection was due, so
    that connecting and any wait for a free client thread count too (a
    late client must not hide a slow server).  run() returns self with:
      requests: [(start offset of its connection in s, response time in s,
                  blade)] of the answered requests;
      failed:   connections that failed (their answered requests count);
      split:    connections whose requests were answered by more than one
                blade (each connection is one flow: always 0 unless the
                switch moved one);
      last_error."""

    def __init__(self, host, port, path, rate, seconds, reqs=8, seed=1,
                 workers=64, timeout=60.0):
        if rate <= 0 or seconds <= 0 or reqs < 1:
            raise ValueError("rate and seconds must be > 0, reqs >= 1")
        self.host, self.port, self.path = host, port, path
        self.rate, self.seconds, self.reqs = rate, seconds, reqs
        self.rng = random.Random(seed)
        self.workers = workers
        self.timeout = timeout
        self.lock = threading.Lock()
        self.requests = []
        self.failed = 0
        self.split = 0
        self.last_error = None

    def _connection(self, offset, due):
        conn = Connection(self.host, self.port, self.timeout)
        done = []
        blades = set()
        try:
            start = due
            for i in range(self.reqs):
                blade = conn.get(self.path, close=i == self.reqs - 1)
                end = time.monotonic()
                done.append((offset, end - start, blade))
                blades.add(blade)
                start = end
        except LOAD_ERRORS as e:
            with self.lock:
                self.failed += 1
                self.last_error = f"{type(e).__name__}: {e}"
        finally:
            conn.close()
        with self.lock:
            self.requests += done
            self.split += len(blades) > 1

    def run(self):
        start = time.monotonic()
        offset = 0.0
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            while True:
                offset += self.rng.expovariate(self.rate)
                if offset > self.seconds:
                    break
                delay = start + offset - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self._connection, offset, start + offset)
        return self
