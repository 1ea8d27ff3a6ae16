"""The blade image: Debian's cloud kernel and a busybox initramfs.

Packages are fetched with 'apt-get download' and unpacked with 'dpkg-deb -x'
(no maintainer scripts, no root).  The initramfs is written here as a cpio
'newc' archive so that owners, modes, times and the /dev/console node are
fixed without root: the same inputs give the same bytes.
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import stat

from . import driver, packages
from .common import (BUILD, LOGS, REPO, Failure, cache_dir, ensure_dir,
                     need_space, output, run, say, step)

IMAGES = os.path.join(BUILD, "images")
KERNEL = os.path.join(IMAGES, "vmlinuz")
INITRAMFS = os.path.join(IMAGES, "initramfs.cpio.gz")
MANIFEST = os.path.join(IMAGES, "manifest.json")
# images/rootfs/ is copied into the initramfs as it is (init, scripts,
# the web service); executable files stay executable.
ROOTFS = os.path.join(REPO, "images", "rootfs")
# The blade's own small programs (images/programs/NAME.c, one file each):
# built static, so the image needs no C library for them, into usr/bin/NAME.
PROGRAMS = os.path.join(REPO, "images", "programs")
PROGRAMS_OUT = os.path.join(IMAGES, "programs")
KERNEL_META = "linux-image-cloud-amd64"
# Debian programs the blade carries beyond busybox, with the data they read.
# Their shared libraries are found from the ELF files themselves.
GUEST_PROGRAMS = {"pciutils": ["usr/bin/lspci"], "ethtool": ["sbin/ethtool"],
                  "iperf3": ["usr/bin/iperf3"]}
GUEST_DATA = {"pci.ids": ["usr/share/misc/pci.ids"]}
LIB_DIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64"]
# Kernel modules the blade carries (with what they depend on), for
# 'modprobe' in the guest: virtio-net, the baseline 'bench guest' compares
# blade-nic with.  The cloud kernel has virtio only as modules.
GUEST_MODULES = ["virtio_pci", "virtio_net"]


def kernel_abi():
    """The cloud kernel's ABI (e.g. 6.1.0-56), read from the metapackage."""
    text = output(["apt-cache", "depends", KERNEL_META]) or ""
    m = re.search(r"Depends:\s*linux-image-(\S+)-cloud-amd64", text)
    if not m:
        raise Failure(f"cannot read the kernel ABI from {KERNEL_META} "
                      "('apt-cache depends' found no linux-image dependency; "
                      "is bookworm-security in the apt sources?)")
    return m.group(1)


def candidates(pkgs):
    """The versions apt would install, for several packages in one call."""
    text = output(["apt-cache", "policy"] + list(pkgs)) or ""
    found = dict(re.findall(r"^(\S+):\n\s+Installed:.*\n\s+Candidate:\s*(\S+)",
                            text, re.M))
    for pkg in pkgs:
        if found.get(pkg, "(none)") == "(none)":
            raise Failure(f"Debian package {pkg} is not available from apt")
    return {pkg: found[pkg] for pkg in pkgs}


def _find_deb(debs, pkg, version):
    # apt names files pkg_VERSION_arch.deb, without the epoch or with it
    # escaped as %3a.
    plain = re.sub(r"^\d+:", "", version)
    for name in os.listdir(debs):
        unescaped = name.replace("%3a", ":")
        if (name.startswith(f"{pkg}_") and name.endswith(".deb") and
                (f"_{version}_" in unescaped or f"_{plain}_" in unescaped)):
            return os.path.join(debs, name)
    return None


def fetch_debs(versions):
    """apt-get download (one call for all that are missing) into the cache;
    returns {package: .deb path}."""
    debs = ensure_dir(os.path.join(cache_dir(), "debs"))
    missing = [f"{p}={v}" for p, v in sorted(versions.items())
               if not _find_deb(debs, p, v)]
    if missing:
        say(f"downloading {' '.join(missing)}")
        log = os.path.join(LOGS, "image.log")
        proc = run(["apt-get", "download"] + missing, cwd=debs, log=log,
                   check=False)
        if proc.returncode != 0:
            if re.search(r"Temporary failure resolving|Could not connect|"
                         r"Unable to connect", proc.log_text):
                raise Failure("no network to the Debian archive: cannot "
                              f"download the blade image's packages (see {log})")
            raise Failure(f"'apt-get download' of the blade image's packages "
                          f"failed (see {log})")
    found = {p: _find_deb(debs, p, v) for p, v in versions.items()}
    for p, path in found.items():
        if not path:
            raise Failure(f"apt-get download left no .deb for {p} in {debs}")
    return found


def unpack(deb, dest):
    """dpkg-deb -x once into the cache; returns the tree."""
    if os.path.exists(os.path.join(dest, ".unpacked")):
        return dest
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    ensure_dir(os.path.dirname(dest))
    run(["dpkg-deb", "-x", deb, tmp], log=os.path.join(LOGS, "image.log"))
    open(os.path.join(tmp, ".unpacked"), "w").close()
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    return dest


class Cpio:
    """Writer for the 'newc' cpio format the kernel unpacks as initramfs."""

    def __init__(self, out):
        self.out = out
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0],
                  rdev[1], len(name_b), 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.out.write(hdr + name_b)
        self.out.write(b"\0" * (-(len(hdr) + len(name_b)) % 4))
        self.out.write(data)
        self.out.write(b"\0" * (-len(data) % 4))

    def dir(self, name, mode=0o755):
        parent = os.path.dirname(name)
        if parent and parent not in self.dirs:
            self.dir(parent)
        if name not in self.dirs:
            self.dirs.add(name)
            self._entry(name, stat.S_IFDIR | mode)

    def file(self, name, data, mode=0o644):
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, mode=0o600):
        self.dir(os.path.dirname(name))
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0)


def package_closure(names):
    """The packages names need at run time (Depends, recursively)."""
    text = output(["apt-cache", "depends", "--recurse", "--no-recommends",
                   "--no-suggests", "--no-conflicts", "--no-breaks",
                   "--no-replaces", "--no-enhances"] + list(names))
    if text is None:
        raise Failure(f"apt-cache depends {' '.join(names)} failed")
    return sorted({l.strip() for l in text.splitlines()
                   if l.strip() and not l.startswith((" ", "<"))})


def guest_root(versions):
    """Debian packages for the guest programs, unpacked into one tree."""
    digest = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:16]
    dest = os.path.join(cache_dir(), "guestroot", digest)
    if os.path.exists(os.path.join(dest, ".unpacked")):
        return dest
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    ensure_dir(tmp)
    for deb in sorted(fetch_debs(versions).values()):
        run(["dpkg-deb", "-x", deb, tmp], log=os.path.join(LOGS, "image.log"))
    open(os.path.join(tmp, ".unpacked"), "w").close()
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    return dest


def _needed(path):
    text = output(["readelf", "-d", "-l", path]) or ""
    libs = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", text)
    interp = re.findall(r"Requesting program interpreter: /([^]]+)\]", text)
    return libs, interp


def _add_path(cpio, root, rel, seen):
    """Add root/rel (following symlinks inside root) to the archive."""
    if rel in seen:
        return
    seen.add(rel)
    full = os.path.join(root, rel)
    if os.path.islink(full):
        target = os.readlink(full)
        cpio.symlink(rel, target)
        resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target)
                                    if not target.startswith("/") else target[1:])
        _add_path(cpio, root, resolved, seen)
        return
    if not os.path.isfile(full):
        raise Failure(f"blade image: {rel} is missing from the guest packages")
    with open(full, "rb") as f:
        cpio.file(rel, f.read(), 0o755 if os.access(full, os.X_OK) else 0o644)


def add_guest_programs(cpio, root):
    seen: set[str] = set()
    unvisited = [p for progs in GUEST_PROGRAMS.values() for p in progs]
    for data in GUEST_DATA.values():
        for rel in data:
            _add_path(cpio, root, rel, seen)
    while unvisited:
        rel = unvisited.pop()
        if rel in seen:
            continue
        _add_path(cpio, root, rel, seen)
        libs, interp = _needed(os.path.realpath(os.path.join(root, rel)))
        for lib in libs:
            for d in LIB_DIRS:
                if os.path.lexists(os.path.join(root, d, lib)):
                    unvisited.append(os.path.join(d, lib))
                    break
            else:
                raise Failure(f"blade image: {rel} needs {lib}, which no guest "
                              "package provides")
        unvisited += interp


def module_files(kroot, abi):
    """{path in the image: bytes} for GUEST_MODULES, their dependencies and
    the modules.dep that host depmod writes for them, so busybox modprobe
    finds them in the guest."""
    mdir = os.path.join(kroot, "lib", "modules", abi)
    paths = {}
    with open(os.path.join(mdir, "modules.order")) as f:
        for line in f:
            rel = line.strip()
            if rel.endswith(".ko"):
                paths[os.path.basename(rel)[:-3].replace("-", "_")] = rel
    unresolved, found = list(GUEST_MODULES), {}
    while unresolved:
        name = unresolved.pop().replace("-", "_")
        if name in found:
            continue
        if name not in paths:
            raise Failure(f"blade image: kernel module {name} is not in {mdir}")
        found[name] = paths[name]
        deps = output(["/sbin/modinfo", "-F", "depends",
                       os.path.join(mdir, paths[name])])
        if deps is None:
            raise Failure(f"modinfo {paths[name]} failed")
        unresolved += [d for d in deps.strip().split(",") if d]
    files = {}
    staging = os.path.join(BUILD, "images", "modules.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    sdir = os.path.join(staging, "lib", "modules", abi)
    for rel in sorted(found.values()):
        ensure_dir(os.path.dirname(os.path.join(sdir, rel)))
        shutil.copyfile(os.path.join(mdir, rel), os.path.join(sdir, rel))
        with open(os.path.join(mdir, rel), "rb") as f:
            files[f"lib/modules/{abi}/{rel}"] = f.read()
    shutil.copyfile(os.path.join(mdir, "modules.builtin"),
                    os.path.join(sdir, "modules.builtin"))
    run(["/sbin/depmod", "-b", staging, abi], log=os.path.join(LOGS, "image.log"))
    with open(os.path.join(sdir, "modules.dep"), "rb") as f:
        files[f"lib/modules/{abi}/modules.dep"] = f.read()
    shutil.rmtree(staging, ignore_errors=True)
    return files


def busybox_applets(busybox):
    text = output([busybox, "--list-full"])
    if not text:
        raise Failure(f"{busybox} --list-full failed")
    return [l.strip() for l in text.splitlines() if l.strip()]


def write_initramfs(path, busybox, groot, abi, module=None, modules=None,
                    programs=None):
    with open(busybox, "rb") as f:
        bb = f.read()
    tmp = path + ".tmp"
    with open(tmp, "wb") as raw:
        # mtime=0 keeps the gzip header, and so the file, reproducible.
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            cpio = Cpio(gz)
            for d in ["dev", "proc", "sys", "run", "tmp", "root", "etc",
                      "var/log", "usr/bin", "usr/sbin", "sbin"]:
                cpio.dir(d)
            cpio.chardev("dev/console", 5, 1)
            cpio.chardev("dev/null", 1, 3, 0o666)
            cpio.file("bin/busybox", bb, 0o755)
            for applet in busybox_applets(busybox):
                if applet != "bin/busybox":
                    depth = applet.count("/")
                    cpio.symlink(applet, "../" * depth + "bin/busybox")
            add_guest_programs(cpio, groot)
            if module:
                with open(module, "rb") as f:
                    cpio.file(f"lib/modules/{abi}/extra/{os.path.basename(module)}",
                              f.read())
            for rel, data in sorted((modules or {}).items()):
                cpio.file(rel, data)
            for rel, full, executable in rootfs_files():
                with open(full, "rb") as f:
                    cpio.file(rel, f.read(), 0o755 if executable else 0o644)
            for rel, binary in sorted((programs or {}).items()):
                with open(binary, "rb") as f:
                    cpio.file(rel, f.read(), 0o755)
            cpio.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
            cpio.file("etc/group", b"root:x:0:\n")
            cpio.close()
    os.replace(tmp, path)


def rootfs_files():
    """(path in the image, path here, executable) for images/rootfs/."""
    found = []
    for top, dirs, files in os.walk(ROOTFS):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(top, name)
            found.append((os.path.relpath(full, ROOTFS), full,
                          os.access(full, os.X_OK)))
    return found


def program_files(suffix):
    """Sorted paths of images/programs/*SUFFIX."""
    try:
        names = sorted(n for n in os.listdir(PROGRAMS) if n.endswith(suffix))
    except FileNotFoundError:
        return []
    return [os.path.join(PROGRAMS, n) for n in names]


def program_sources():
    """(name, source path) of each program in images/programs/."""
    return [(os.path.basename(src)[:-2], src) for src in program_files(".c")]


def build_programs():
    """Compile images/programs/*.c; {path in the image: binary}."""
    built = {}
    log = os.path.join(LOGS, "image-programs.log")
    # The programs share headers: any of them changed rebuilds each one.
    headers = max((os.path.getmtime(h) for h in program_files(".h")),
                  default=0)
    for name, src in program_sources():
        out = os.path.join(ensure_dir(PROGRAMS_OUT), name)
        if (not os.path.exists(out) or os.path.getmtime(out) <
                max(os.path.getmtime(src), headers)):
            run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror",
                 "-o", out + ".tmp", src, "-lm"], log=log)
            os.replace(out + ".tmp", out)
        built[f"usr/bin/{name}"] = out
    return built


def inputs_digest(parts):
    h = hashlib.sha256()
    sources = [(f"programs/{os.path.basename(src)}", src, False)
               for src in program_files(".c") + program_files(".h")]
    for rel, full, executable in rootfs_files() + sources + [
            ("builder", os.path.abspath(__file__), False)]:
        h.update(f"{rel} {executable}\n".encode())
        with open(full, "rb") as f:
            h.update(f.read())
    h.update(json.dumps(parts, sort_keys=True).encode())
    return h.hexdigest()[:16]


def build(force=False):
    """Build the image if its inputs changed; returns the manifest."""
    packages.ensure_packages()
    # Package versions can only change when apt's lists do: skip the apt
    # queries (seconds) when neither they nor our own sources changed.
    lists = apt_lists_stamp()
    try:
        with open(MANIFEST) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        manifest = None
    if (manifest and manifest.get("apt_lists") == lists and
            manifest.get("sources") == inputs_digest({})):
        parts = {k: manifest[k] for k in ("kernel_package", "kernel_version",
                                          "busybox_version", "guest_packages")}
    else:
        kpkg = f"linux-image-{kernel_abi()}-cloud-amd64"
        host = candidates([kpkg, "busybox-static"])
        parts = {"kernel_package": kpkg, "kernel_version": host[kpkg],
                 "busybox_version": host["busybox-static"],
                 "guest_packages": candidates(package_closure(
                     list(GUEST_PROGRAMS) + list(GUEST_DATA)))}
    abi = parts["kernel_package"][len("linux-image-"):]
    # The driver is built (incrementally) every time: its module is an input.
    ko = driver.build(abi) if driver.present() else None
    if ko:
        with open(ko, "rb") as f:
            parts["driver_sha256"] = hashlib.sha256(f.read()).hexdigest()[:16]
    digest = inputs_digest(parts)
    if (not force and manifest and manifest.get("inputs") == digest and
            os.path.exists(KERNEL) and os.path.exists(INITRAMFS)):
        if manifest.get("apt_lists") != lists:
            write_manifest(manifest, lists)
        return manifest

    kpkg = parts["kernel_package"]
    step(f"building the blade image (kernel {abi}, busybox initramfs"
         f"{', blade_nic driver' if ko else ''})")
    need_space(cache_dir(), 1, "the kernel package")
    ensure_dir(IMAGES)
    host = {kpkg: parts["kernel_version"],
            "busybox-static": parts["busybox_version"]}
    debs = fetch_debs(dict(parts["guest_packages"], **host))
    kroot = unpack(debs[kpkg], os.path.join(cache_dir(), "kernel", abi))
    broot = unpack(debs["busybox-static"],
                   os.path.join(cache_dir(), "busybox", parts["busybox_version"]))
    vmlinuz = os.path.join(kroot, "boot", f"vmlinuz-{abi}")
    if not os.path.exists(vmlinuz):
        raise Failure(f"{kpkg} has no boot/vmlinuz-{abi}")
    shutil.copyfile(vmlinuz, KERNEL + ".tmp")
    os.replace(KERNEL + ".tmp", KERNEL)
    write_initramfs(INITRAMFS, os.path.join(broot, "bin", "busybox"),
                    guest_root(parts["guest_packages"]), abi, ko,
                    module_files(kroot, abi), build_programs())
    manifest = dict(parts, abi=abi, inputs=digest, kernel=KERNEL,
                    initramfs=INITRAMFS)
    write_manifest(manifest, lists)
    say(f"blade image ready: {KERNEL}, {INITRAMFS}")
    return manifest


def apt_lists_stamp():
    path = "/var/lib/apt/lists"
    try:
        return max((e.stat().st_mtime_ns for e in os.scandir(path)), default=0)
    except OSError:
        return 0


def write_manifest(manifest, lists):
    manifest["apt_lists"] = lists
    manifest["sources"] = inputs_digest({})
    with open(MANIFEST + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(MANIFEST + ".tmp", MANIFEST)
