"""QEMU 10.0 from Debian's source package, with bladeplane overlaid, built.

Layout:
  ~/.cache/bladeplane/qemu/<version>/   pristine Debian source (patches applied,
                                         roms/ dropped), shared by checkouts
  build/qemu-src/                        this checkout's tree: hard links to the
                                         pristine files, scripts/qemu/overlay.patch
                                         applied to copies, and symlinks to the
                                         repository's hw/blade, net and
                                         tests/qtest files
  build/qemu/                            QEMU's build directory
  build/qemu-fuzz/                       the same tree built with clang,
                                         libFuzzer and ASan: qemu-fuzz-x86_64

The overlay is symlinks, never copies: ninja sees the repository's own files,
so an edit recompiles exactly that file and a stale copy cannot be built.
"""

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess

from . import packages
from .common import (BUILD, LOGS, REPO, Failure, Progress, cache_dir,
                     ensure_dir, need_space, output, piped, run, say,
                     show_tail, step)

SERIES = "10.0."
QEMU_SRC = os.path.join(BUILD, "qemu-src")
QEMU_BUILD = os.path.join(BUILD, "qemu")
QEMU_BIN = os.path.join(QEMU_BUILD, "qemu-system-x86_64")
QEMU_FUZZ_BUILD = os.path.join(BUILD, "qemu-fuzz")
QEMU_FUZZ_BIN = os.path.join(QEMU_FUZZ_BUILD, "qemu-fuzz-x86_64")
PATCH = os.path.join(REPO, "scripts", "qemu", "overlay.patch")
DEVICES_MAK = os.path.join(REPO, "scripts", "qemu", "x86_64-softmmu.mak")
# Firmware Debian strips from the source tarball comes from its packages.
FIRMWARE_DIRS = ["/usr/share/seabios", "/usr/share/qemu"]

CONFIGURE_ARGS = [
    # configure names the compiler in its meson cross file, so meson never
    # picks ccache up by itself: name it here.
    "--cc=ccache cc",
    "--python=/usr/bin/python3",
    "--target-list=x86_64-softmmu",
    "--without-default-features",
    "--without-default-devices",
    "--with-devices-x86_64=bladeplane",
    "--enable-slirp", "--enable-kvm", "--enable-tcg", "--enable-fdt=system",
    "--disable-docs", "--disable-werror", "--disable-install-blobs",
]

# QEMU's generic-fuzz (tests/qtest/fuzz): the same device set, compiled by
# clang with libFuzzer's instrumentation and AddressSanitizer.
FUZZ_CONFIGURE_ARGS = ["--cc=ccache clang", "--cxx=ccache clang++",
                       "--enable-fuzzing", "--enable-asan"] + \
    [a for a in CONFIGURE_ARGS if not a.startswith("--cc=")]


def ccache_env():
    """ccache shared by every checkout: paths relative to the checkout and no
    working directory in the hash, so a fresh clone hits the cache."""
    env = dict(os.environ)
    env["CCACHE_DIR"] = os.path.join(cache_dir(), "ccache")
    env["CCACHE_BASEDIR"] = REPO
    env["CCACHE_NOHASHDIR"] = "true"
    env.setdefault("CCACHE_MAXSIZE", "4G")
    return env


def _sha256(*paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path, data):
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)


def _compare_versions(a, b):
    if subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0:
        return 1
    return 0 if a == b else -1


def source_versions(text=None):
    """QEMU 10.0.x versions of the 'qemu' source package apt knows, newest
    first (text: 'apt-cache showsrc qemu' output, read from apt if None)."""
    if text is None:
        text = output(["apt-cache", "showsrc", "qemu"]) or ""
    versions = set(re.findall(r"^Version:\s*(\S+)", text, re.M))
    series = [v for v in versions
              if re.sub(r"^\d+:", "", v).startswith(SERIES)]
    return sorted(series, key=functools.cmp_to_key(_compare_versions),
                  reverse=True)


def pristine_source():
    """A pristine QEMU 10.0.x tree: $BLADEPLANE_QEMU_SRC, or Debian's source
    package unpacked once into the cache.  Returns (path, version)."""
    if os.environ.get("BLADEPLANE_QEMU_SRC"):
        path = os.path.abspath(os.environ["BLADEPLANE_QEMU_SRC"])
        try:
            with open(os.path.join(path, "VERSION")) as f:
                version = f.read().strip()
        except OSError:
            raise Failure(f"BLADEPLANE_QEMU_SRC={path} is not a QEMU source tree "
                          "(no VERSION file)") from None
        if not version.startswith(SERIES):
            raise Failure(f"BLADEPLANE_QEMU_SRC={path} is QEMU {version}; "
                          f"bladeplane needs {SERIES}x")
        return path, version

    root = ensure_dir(os.path.join(cache_dir(), "qemu"))
    for entry in sorted(os.listdir(root), reverse=True):
        stamp = _read_json(os.path.join(root, entry, ".bladeplane-pristine"))
        if stamp and stamp.get("complete"):
            return os.path.join(root, entry), stamp["version"]

    versions = source_versions()
    if not versions:
        # The lists may predate the sources setup added: refresh once.
        packages.apt_update(packages.root_prefix())
        versions = source_versions()
    if not versions:
        raise Failure(f"no QEMU {SERIES}x source package found by 'apt-cache "
                      "showsrc qemu' (setup adds trixie deb-src); fetch a QEMU "
                      f"{SERIES}x source tree by hand and set "
                      "BLADEPLANE_QEMU_SRC=/path/to/it")
    need_space(root, 2, "unpacking QEMU's source")
    dl = ensure_dir(os.path.join(cache_dir(), "src"))
    log = os.path.join(LOGS, "qemu-source.log")
    for version in versions:
        step(f"fetching QEMU source {version} with apt-get source")
        proc = run(["apt-get", "source", "--download-only", f"qemu={version}"],
                   log=log, check=False, cwd=dl)
        dsc = [f for f in os.listdir(dl) if f.endswith(".dsc") and
               re.sub(r"^\d+:", "", version) in f]
        if proc.returncode == 0 and dsc:
            break
        text = proc.log_text
        if "No space left" in text:
            raise Failure(f"disk full while downloading QEMU's source (see {log})")
        if re.search(r"Temporary failure resolving|Could not connect", text):
            raise Failure("no network to the Debian archive: cannot download "
                          f"QEMU's source (see {log})")
        say(f"QEMU {version} could not be downloaded; trying the next version")
    else:
        raise Failure(f"no QEMU {SERIES}x source could be downloaded ({log}); "
                      "set BLADEPLANE_QEMU_SRC=/path/to/qemu-10.0.x to use a tree "
                      "you fetched by hand")
    upstream = re.sub(r"^\d+:", "", version)
    dest = os.path.join(root, upstream)
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    step(f"unpacking QEMU {upstream} (Debian's patches applied)")
    run(["dpkg-source", "--no-copy", "-x", os.path.join(dl, dsc[0]), tmp], log=log)
    # Guest firmware sources: never built here, 270 MB.
    shutil.rmtree(os.path.join(tmp, "roms"), ignore_errors=True)
    with open(os.path.join(tmp, "VERSION")) as f:
        qemu_version = f.read().strip()
    _write_json(os.path.join(tmp, ".bladeplane-pristine"),
                {"version": qemu_version, "debian": version, "complete": True})
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    return dest, qemu_version


def _link_tree(src, dst):
    """Hard-link copy (instant, no space) when on one file system."""
    if run(["cp", "-al", src, dst], check=False, quiet=True).returncode != 0:
        shutil.rmtree(dst, ignore_errors=True)
        run(["cp", "-a", "--reflink=auto", src, dst])


def _patched_files():
    with open(PATCH) as f:
        return re.findall(r"^\+\+\+ b/(\S+)", f.read(), re.M)


def prepare_tree(pristine, version):
    """build/qemu-src: this checkout's view of QEMU with the overlay."""
    want = {"pristine": pristine, "version": version, "patch": _sha256(PATCH)}
    stamp_path = os.path.join(QEMU_SRC, ".bladeplane-tree")
    if _read_json(stamp_path) != want:
        step(f"preparing QEMU {version} tree with the bladeplane overlay")
        need_space(BUILD, 3, "the QEMU build")
        shutil.rmtree(QEMU_SRC, ignore_errors=True)
        shutil.rmtree(QEMU_BUILD, ignore_errors=True)
        ensure_dir(BUILD)
        tmp = QEMU_SRC + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        _link_tree(pristine, tmp)
        # Patched files become private copies so the shared tree stays pristine.
        for rel in _patched_files():
            path = os.path.join(tmp, rel)
            data = open(path, "rb").read()
            os.unlink(path)
            with open(path, "wb") as f:
                f.write(data)
        run(["patch", "-p1", "--quiet", "--forward", "-i", PATCH], cwd=tmp,
            log=os.path.join(LOGS, "qemu-overlay.log"))
        os.rename(tmp, QEMU_SRC)
        _write_json(stamp_path, want)
    sync_overlay()


def _symlink(target, link):
    rel = os.path.relpath(target, os.path.dirname(link))
    if os.path.islink(link) and os.readlink(link) == rel:
        return
    if os.path.lexists(link):
        if os.path.isdir(link) and not os.path.islink(link):
            shutil.rmtree(link)
        else:
            os.unlink(link)
    os.symlink(rel, link)


def sync_overlay():
    """Point the QEMU tree at this checkout's files (every run: new files
    appear, deleted ones disappear)."""
    hw = ensure_dir(os.path.join(QEMU_SRC, "hw", "blade"))
    repo_hw = os.path.join(REPO, "hw", "blade")
    wanted = set(os.listdir(repo_hw))
    for name in wanted:
        _symlink(os.path.join(repo_hw, name), os.path.join(hw, name))
    _symlink(os.path.join(REPO, "net"), os.path.join(hw, "net"))
    for name in os.listdir(hw):
        if name not in wanted and name != "net":
            os.unlink(os.path.join(hw, name))
    # The switch's QAPI schema: qapi/meson.build reads it from qapi/.
    _symlink(os.path.join(repo_hw, "blade.json"),
             os.path.join(QEMU_SRC, "qapi", "blade.json"))
    _symlink(os.path.join(REPO, "tests", "qtest"),
             os.path.join(QEMU_SRC, "tests", "qtest", "blade"))
    _symlink(DEVICES_MAK, os.path.join(QEMU_SRC, "configs", "devices",
                                       "x86_64-softmmu", "bladeplane.mak"))


def configure(version, builddir=QEMU_BUILD, args=CONFIGURE_ARGS,
              what="x86_64, q35 + virtio + blade devices, ccache"):
    want = {"args": args, "version": version}
    stamp = os.path.join(builddir, ".bladeplane-configure")
    if _read_json(stamp) == want and \
            os.path.exists(os.path.join(builddir, "build.ninja")):
        return
    step(f"configuring QEMU ({what})")
    shutil.rmtree(builddir, ignore_errors=True)
    ensure_dir(builddir)
    name = os.path.basename(builddir)
    run([os.path.join(QEMU_SRC, "configure")] + args,
        cwd=builddir, env=ccache_env(),
        log=os.path.join(LOGS, f"{name}-configure.log"))
    _write_json(stamp, want)


def qtest_targets():
    """Ninja targets of bladeplane's qtests (relative to the build dir)."""
    tests = json.loads(output([os.path.join(QEMU_BUILD, "pyvenv", "bin", "meson"), "introspect", "--tests", QEMU_BUILD]) or "[]")
    return sorted({os.path.relpath(t["cmd"][0], QEMU_BUILD) for t in tests
                   if "bladeplane" in t.get("suite", []) or
                   any(s.endswith(":bladeplane") for s in t.get("suite", []))})


def ninja(targets, what, builddir=QEMU_BUILD, jobs=None):
    """Build targets with a progress line; the full log is kept."""
    log = os.path.join(LOGS, os.path.basename(builddir) + "-build.log")
    ensure_dir(LOGS)
    progress = Progress(what)
    with open(log, "w") as f:
        jobs = ["-j", str(jobs)] if jobs else []
        proc = subprocess.Popen(["ninja", "-C", builddir] + jobs + targets,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=ccache_env())
        work = 0
        for line in piped(proc.stdout):
            f.write(line)
            m = re.match(r"\[(\d+)/(\d+)\] (\S+)", line)
            if m:
                # QEMU regenerates qemu-version.h on every run: that alone
                # is not work worth reporting.
                work += m.group(3) in ("Compiling", "Linking")
                progress.update(f"step {m.group(1)} of {m.group(2)}")
        rc = proc.wait()
    if rc != 0:
        text = open(log, errors="replace").read()
        if "No space left on device" in text:
            raise Failure(f"disk full while building QEMU (see {log})")
        show_tail(log, 40)
        raise Failure(f"QEMU build failed; full log: {log}")
    progress.done("up to date" if work == 0 else
                  f"{work} files compiled or linked")


def build(qtests=False):
    """QEMU with the blade devices (and, with qtests, bladeplane's qtest
    programs); returns the emulator's path."""
    packages.ensure_packages()
    pristine, version = pristine_source()
    prepare_tree(pristine, version)
    configure(version)
    targets = ["qemu-system-x86_64"] + (qtest_targets() if qtests else [])
    ninja(targets, f"building QEMU {version} with bladeplane devices")
    link_firmware()
    return QEMU_BIN


def build_fuzz():
    """qemu-fuzz-x86_64 (QEMU's fuzzers, generic-fuzz with the blade
    configurations among them) in build/qemu-fuzz; returns its path.  The
    first build compiles QEMU once more with clang (ccache keeps it)."""
    packages.ensure_packages()
    pristine, version = pristine_source()
    prepare_tree(pristine, version)
    configure(version, QEMU_FUZZ_BUILD, FUZZ_CONFIGURE_ARGS,
              "clang, libFuzzer, ASan; for qemu-fuzz-x86_64")
    ninja(["qemu-fuzz-x86_64"], f"building QEMU {version}'s fuzzer "
          "(clang, libFuzzer, ASan)", QEMU_FUZZ_BUILD,
          # clang with ASan needs more memory per job than gcc: one a core.
          jobs=os.cpu_count())
    link_firmware(QEMU_FUZZ_BUILD)
    return QEMU_FUZZ_BIN


def link_firmware(builddir=QEMU_BUILD):
    """Debian strips firmware from QEMU's source; its seabios and
    qemu-system-data packages have it.  Link it into the build's data
    directory so build/qemu/qemu-system-x86_64 (and the qtests) find it
    without -L."""
    datadir = ensure_dir(os.path.join(builddir, "qemu-bundle", "usr", "local",
                                      "share", "qemu"))
    for d in FIRMWARE_DIRS:
        if not os.path.isdir(d):
            raise Failure(f"{d} is missing: install Debian's seabios and "
                          "qemu-system-data packages")
        for name in os.listdir(d):
            src = os.path.join(d, name)
            link = os.path.join(datadir, name)
            if os.path.isfile(src) and not os.path.lexists(link):
                os.symlink(src, link)
