"""Debian packages: apt sources, privilege, install of what the project needs."""

import os
import re
import shutil
import subprocess

from .common import Failure, LOGS, output, run, say, step

# What every part of the project needs, from bookworm itself.
PACKAGES = [
    # QEMU build (configure --without-default-features + slirp)
    "gcc", "make", "pkg-config", "ninja-build", "flex", "bison", "ccache",
    "python3-venv", "libglib2.0-dev", "libslirp-dev", "libpixman-1-dev",
    "zlib1g-dev", "libfdt-dev", "dpkg-dev", "xz-utils", "patch",
    # firmware that Debian strips from QEMU's source (BIOS, option ROMs)
    "seabios", "qemu-system-data",
    # blade image
    "cpio", "gzip", "kmod",
    # the blade's own static programs (images/programs/)
    "libc6-dev",
    # fuzz targets and sanitizers
    "clang", "libclang-rt-14-dev",
    # the benches' plots (tests/bench/lb-report.py)
    "gnuplot-nox",
    # the CLI's type checks (unit tier)
    "mypy",
    "tshark",  # the Wireshark dissector's test (unit tier)
    # the qtest tier's unplug tests, QEMU under valgrind
    "valgrind",
    "libjs-chart.js", "chromium", "chromium-driver", "python3-selenium",  # web
]
# QEMU 10.0 needs meson >= 1.5; bookworm has 1.0, bookworm-backports 1.7.
BACKPORTS = {"meson": (1, 5)}

SOURCES_FILE = "/etc/apt/sources.list.d/bladeplane.sources"
SUPPORTED = "Debian 12 (bookworm)"


def manual_help():
    return (f"install by hand: {' '.join(PACKAGES)} meson>=1.5, then point the "
            "build at a QEMU 10.0.x source tree with BLADEPLANE_QEMU_SRC=/path "
            "and set BLADEPLANE_NO_APT=1")


def os_release():
    info = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, _, val = line.strip().partition("=")
                info[key] = val.strip('"')
    except OSError:
        pass
    return info


def check_distribution(info=None):
    info = os_release() if info is None else info
    if info.get("ID") == "debian" and info.get("VERSION_ID") == "12":
        return
    name = info.get("PRETTY_NAME", "an unknown system")
    raise Failure(f"unsupported distribution {name}: setup supports "
                  f"{SUPPORTED}; {manual_help()}")


def root_prefix():
    """[] as root, ['sudo'] for a user who may sudo, else a clear error."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        if subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
            return ["sudo"]
        if os.isatty(0):
            say("installing Debian packages needs root: sudo will ask for your password")
            return ["sudo"]
    raise Failure("installing Debian packages needs root: run as root or as a "
                  "user who may use sudo (or " + manual_help() + ")")


def archive_uri(deb822="/etc/apt/sources.list.d/debian.sources",
                sources_list="/etc/apt/sources.list"):
    """The Debian mirror the system already uses, from its apt configuration."""
    candidates = []
    if os.path.exists(deb822):
        with open(deb822) as f:
            stanzas = f.read().split("\n\n")
        for stanza in stanzas:
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and "bookworm" in suites.group(1).split():
                candidates.append(uris.group(1))
    if os.path.exists(sources_list):
        with open(sources_list) as f:
            for line in f:
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
                if m:
                    candidates.append(m.group(1))
    if not candidates:
        raise Failure("cannot find the Debian archive in the apt configuration "
                      "(no 'bookworm' entry in /etc/apt/sources.list or "
                      "sources.list.d/debian.sources)")
    return candidates[0]


def wanted_sources(uri):
    return (
        "# Added by bladeplane setup: meson from backports, QEMU 10.0 source\n"
        "# from trixie (source only: no trixie binaries are installed).\n"
        f"Types: deb deb-src\nURIs: {uri}\nSuites: bookworm-backports\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb-src\nURIs: {uri}\nSuites: trixie\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


def missing_packages(names):
    # dpkg-query exits 1 when any name is unknown to dpkg, but still lists
    # the others: read its output whatever the exit status.
    out = subprocess.run(["dpkg-query", "-W", "-f",
                          "${Package} ${db:Status-Status}\n"] + names,
                         capture_output=True, text=True).stdout
    have = {l.split()[0] for l in out.splitlines() if l.endswith(" installed")}
    return [n for n in names if n not in have]


def meson_ok():
    ver = output(["/usr/bin/meson", "--version"])
    if not ver:
        return False
    parts = tuple(int(x) for x in re.findall(r"\d+", ver)[:2])
    return parts >= BACKPORTS["meson"]


def apt_update(sudo):
    log = os.path.join(LOGS, "apt.log")
    proc = run(sudo + ["apt-get", "update"], log=log, check=False)
    text = proc.log_text
    if proc.returncode != 0 or re.search(r"^(W|E): Failed to fetch", text, re.M):
        if re.search(r"Temporary failure resolving|Could not connect|"
                     r"Network is unreachable|Connection failed|Could not resolve|"
                     r"Unable to connect",
                     text):
            raise Failure("no network to the Debian archive: 'apt-get update' "
                          f"could not reach {archive_uri()} (see {log})")
        if proc.returncode != 0:
            raise Failure(f"'apt-get update' failed; see {log}")


def apt_install(sudo, args):
    log = os.path.join(LOGS, "apt.log")
    # sudo resets the environment: the setting goes on its command line
    # (wireshark-common would otherwise ask a question nobody sees)
    proc = run(sudo + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get",
                       "install", "-y", "-q", "--no-install-recommends"]
               + args, log=log, check=False)
    if proc.returncode != 0:
        text = proc.log_text
        if "No space left on device" in text:
            raise Failure("disk full while installing Debian packages "
                          f"(see {log})")
        if re.search(r"Temporary failure resolving|Could not connect", text):
            raise Failure("no network to the Debian archive while installing "
                          f"packages (see {log})")
        raise Failure(f"'apt-get install {' '.join(args)}' failed; see {log}")


def ensure_packages(extra=()):
    """Install what is missing; quick (no apt-get update) when all is there."""
    if os.environ.get("BLADEPLANE_NO_APT"):
        return
    check_distribution()
    names = PACKAGES + list(extra)
    uri = archive_uri()
    sources_ok = False
    try:
        with open(SOURCES_FILE) as f:
            sources_ok = f.read() == wanted_sources(uri)
    except OSError:
        pass
    missing = missing_packages(names)
    if sources_ok and not missing and meson_ok():
        return
    step("installing Debian packages")
    sudo = root_prefix()
    if not sources_ok:
        say(f"adding bookworm-backports and trixie (source only) from {uri}")
        proc = subprocess.run(sudo + ["tee", SOURCES_FILE], input=wanted_sources(uri),
                              text=True, stdout=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise Failure(f"cannot write {SOURCES_FILE}")
    apt_update(sudo)
    if missing:
        say(f"installing {' '.join(missing)}")
        apt_install(sudo, missing)
    if not meson_ok():
        say("installing meson from bookworm-backports (QEMU 10.0 needs >= 1.5)")
        apt_install(sudo, ["-t", "bookworm-backports", "meson"])
        if not meson_ok():
            raise Failure("meson >= 1.5 is still not installed at /usr/bin/meson")
