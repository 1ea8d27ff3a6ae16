"""`bladeplane up/down/capture`: a topology's processes, started in the
background and stopped again (docs/topology.md, docs/switch-blade.md).

Layout of a run directory (rundir.py) for a topology with chassis c1:

    state.json                     what `up` started (read by the others)
    c1/switch.qmp  switch.log  switch.pid      the chassis process
    c1/backplane/slotN.sock                     the switch's slot lanes
    c1/BLADE.console  .console.log  .qmp  .pid  .log    each blade
    linkN.sock                     the link [[link]] N between two chassis
    impair.log  impair.pid         the BER injector, when a topology has one

Chassis joined by links: each link is a QEMU stream netdev on both ends,
named after the switch's chain port there (chain0, chain1, ...): a UNIX
socket in the run directory where end `a` listens and end `b` connects
(and reconnects), or TCP to a chassis on another host.  In virtual time
it is a lane instead (a socket chardev of that name on each end, the
switch's chain-chardevN), since a netdev carries no virtual time.  Their
switches are given as JSON (`-device {"driver": "blade-switch", ...}`),
since the chain ports are an array.
"""

import datetime
import errno
import json
import os
import re
import socket
import subprocess
import sys
import time
from typing import Literal

from . import blade as blade_mod
from . import rundir, topology
from .blade import last_line, qemu_opt
from .common import REPO, Failure, Progress, say, step
from .qmp import QMP, QMPError

SWITCH_ID = "switch"
SWITCH_PATH = f"/machine/peripheral/{SWITCH_ID}"
NIC_PATH = "/machine/peripheral/nic0"
UPLINK_ID = "uplink"
KEY_ID = "fabric-key"
RECONNECT_MS = 200          # a connecting chain port retries this often
READY_TIMEOUT = 300
ROTATION_TIMEOUT = 30
FABRIC_TIMEOUT = 30         # at least; more for long advertisement intervals


# ---- command lines --------------------------------------------------------------


def chassis_files(run_path, ch):
    d = os.path.join(run_path, ch.name)
    return {"dir": d, "qmp": os.path.join(d, "switch.qmp"),
            "log": os.path.join(d, "switch.log"),
            "pid": os.path.join(d, "switch.pid"),
            "backplane": os.path.join(d, "backplane")}


def uplink_netdev(ch):
    """The -netdev option string of the chassis's uplink."""
    up = ch.uplink
    if up.kind == "netdev":
        kind, _, rest = up.netdev.partition(",")
        return f"{kind},id={UPLINK_ID}" + (f",{rest}" if rest else "")
    opts = [f"user,id={UPLINK_ID}", f"net={ch.subnet}"]
    if ch.gateway:
        opts.append(f"host={ch.gateway}")
    opts += [f"hostfwd={f.rule()}" for f in up.forwards]
    return ",".join(opts)


def link_socket(run_path, link):
    """The UNIX socket of a link between two chassis of the topology."""
    return os.path.join(run_path, f"link{link.index}.sock")


def chain_netdevs(topo, ch, run_path):
    """The -netdev option strings of a chassis's chain ports, in port
    order: a stream netdev each, end `a` of a link listening, end `b`
    connecting and reconnecting (so either may start first, and either may
    restart)."""
    out = []
    for link, port in topo.links_of(ch.name):
        if link.b is not None:
            listen = link.a == ch.name
            addr = (f"addr.type=unix,addr.path="
                    f"{qemu_opt(link_socket(run_path, link))}")
        else:
            listen = link.listen
            addr = (f"addr.type=inet,addr.host={link.peer_host},"
                    f"addr.port={link.peer_port}")
        opts = f"stream,id={port},server={'on' if listen else 'off'},{addr}"
        if not listen:
            opts += f",reconnect-ms={RECONNECT_MS}"
        out.append(opts)
    return out


def chain_chardevs(topo, ch, run_path):
    """Virtual time: the -chardev option strings of a chassis's chain
    lanes, in port order, on the sockets chain_netdevs() would use: end
    `a` of a link (or the end that listens, to another host) a server,
    the other a client that reconnects."""
    out = []
    for link, port in topo.links_of(ch.name):
        if link.b is not None:
            listen = link.a == ch.name
            addr = f"path={qemu_opt(link_socket(run_path, link))}"
        else:
            listen = link.listen
            # promises are small writes: Nagle would hold each back
            addr = f"host={link.peer_host},port={link.peer_port},nodelay=on"
        opts = f"socket,id={port},{addr}"
        out.append(opts + (",server=on,wait=off" if listen else
                           f",reconnect-ms={RECONNECT_MS}"))
    return out


def chain_speed(topo, ch):
    """The switch's chain-speed: its links' (they agree), or None."""
    speeds = {link.speed for link, _ in topo.links_of(ch.name)
              if link.speed is not None}
    return speeds.pop() if speeds else None


def iothread_ids(ch):
    """The ids of the iothreads a chassis's switch runs its lanes on."""
    return [f"{SWITCH_ID}-io{i}" for i in range(ch.switch.get("iothreads", 0))]


def switch_device(ch, backplane, topo=None, start_ns=0):
    """The -device argument of the switch blade: an option string for a
    chassis on its own, JSON for chassis joined by links or with per-slot
    latencies (the chain ports and the latencies are arrays; numbers stay
    numbers).  start_ns: in virtual time, where the switch's clock starts
    (a chassis restarted mid-run)."""
    props = {"id": SWITCH_ID, "slots": ch.slots, "backplane": backplane}
    if ch.uplink is not None:
        props["uplink"] = UPLINK_ID
        if ch.uplink.speed is not None:
            props["uplink-speed"] = ch.uplink.speed
    props.update(ch.switch)
    if ch.backplane != "lanes":
        props["backplane-kind"] = ch.backplane
    if "iothreads" in props:
        # the slots' lanes in groups on these (chassis_argv makes them)
        props["iothreads"] = iothread_ids(ch)
    if topo is not None and topo.virtual():
        # the clock waits until every blade of the file is connected
        props.update({"timing": "virtual", "vtime-slots": len(ch.blades)})
        if ch.latency_ns is not None:
            props["vtime-latency-ns"] = ch.latency_ns
        if any(b.latency_ns is not None for b in ch.blades):
            # a slot without a blade of its own latency: 0, the chassis's
            by_slot = {b.slot: b.latency_ns or 0 for b in ch.blades}
            props["vtime-slot-latency-ns"] = [by_slot.get(slot, 0)
                                              for slot in range(ch.slots)]
        if start_ns:
            props["vtime-start-ns"] = start_ns
    if topo is None or not topo.multi():
        if any(type(v) is list for v in props.values()):
            return json.dumps(dict({"driver": "blade-switch"}, **props))
        return "blade-switch," + ",".join(f"{k}={qemu_opt(v)}"
                                          for k, v in props.items())
    if topo.virtual():
        # lanes, which carry virtual time; a latency of 0: the chassis's
        links = topo.links_of(ch.name)
        props.update({f"chain-chardev{i}": port
                      for i, (_, port) in enumerate(links)})
        if any(link.latency_ns is not None for link, _ in links):
            props["vtime-chain-latency-ns"] = [link.latency_ns or 0
                                               for link, _ in links]
    else:
        props["chain"] = list(ch.chain)
    speed = chain_speed(topo, ch)
    if speed is not None:
        props["chain-speed"] = speed
    props["chassis"] = ch.name
    props["chassis-id"] = ch.chassis_id
    if ch.priority is not None:
        props["fabric-priority"] = ch.priority
    fabric = topo.fabric
    if fabric.interval is not None:
        props["fabric-interval"] = fabric.interval
    if fabric.hop_cost is not None:
        props["hop-cost"] = fabric.hop_cost
    if fabric.key_file:
        props["fabric-key-secret"] = KEY_ID
    return json.dumps(dict({"driver": "blade-switch"}, **props))


def chassis_argv(qemu_bin, ch, files, topo=None, run_path=None,
                 start_ns=0):
    argv = [qemu_bin, "-M", "blade-chassis", "-name", ch.name,
            "-nodefaults", "-no-user-config", "-display", "none"]
    if topo is not None and topo.virtual():
        # no CPU, and a clock that moves only when the switch moves it
        argv += ["-accel", "qtest"]
    if ch.uplink is not None:
        argv += ["-netdev", uplink_netdev(ch)]
    if topo is not None and topo.multi():
        if topo.virtual():
            for opts in chain_chardevs(topo, ch, run_path):
                argv += ["-chardev", opts]
        else:
            for opts in chain_netdevs(topo, ch, run_path):
                argv += ["-netdev", opts]
        if topo.fabric.key_file:
            argv += ["-object", f"secret,id={KEY_ID},"
                                f"file={qemu_opt(topo.fabric.key_file)}"]
    for ident in iothread_ids(ch):
        argv += ["-object", f"iothread,id={ident}"]
    argv += ["-device", switch_device(ch, files["backplane"], topo,
                                      start_ns),
             "-chardev", f"socket,id=qmp,path={qemu_opt(files['qmp'])},"
                         "server=on,wait=off",
             "-mon", "chardev=qmp,mode=control"]
    return argv


def nic_args(ch, b, backplane, virtual=False, start_ns=0):
    """What follows 'blade-nic,id=nic0,mac=MAC' for a blade in a slot: the
    lane's speed and PCS are the switch's.  start_ns: in virtual time, the
    chassis's time at the blade's 0 (a blade restarted mid-run)."""
    props = {"backplane": backplane, "slot": b.slot,
             "speed": ch.switch["slot-speed"], "pcs": ch.switch["pcs"]}
    if virtual:
        props["timing"] = "virtual"
        latency = b.latency_ns if b.latency_ns is not None else \
            ch.latency_ns
        if latency is not None:
            props["vtime-latency-ns"] = latency
        if start_ns:
            props["vtime-start-ns"] = start_ns
    props.update(b.nic)
    return "".join(f",{k}={qemu_opt(v)}" for k, v in props.items())


def blade_append(topo, ch, b):
    """The blade's kernel command line after blade.name (blade.py adds
    console, quiet, panic and blade.name).  A blade holds the VIPs of the
    services it serves and those other chassis share (remote)."""
    words = [f"blade.ip={b.ip}"]
    if ch.gateway:
        words.append(f"blade.gw={ch.gateway}")
    vips = topo.blade_vips(ch, b)
    if vips:
        words.append(f"blade.vip={','.join(vips)}")
    return " ".join(words + [topo.image.append, b.append]).strip()


# Virtual time: the guest's wall clock starts at this date on every run.
VIRTUAL_RTC = "2026-01-01T00:00:00"


def virtual_blade_args(b, start_ns=0):
    """A blade in virtual time: held in prelaunch until its NIC's peer is
    there, TCG counting instructions, 2**shift ns each, idle time skipped
    (sleep=off), and an RTC on the virtual clock from a fixed date, or,
    for a blade that starts at the chassis's start_ns, that date plus its
    whole seconds (docs/virtual-time.md)."""
    base = datetime.datetime.fromisoformat(VIRTUAL_RTC) + \
        datetime.timedelta(seconds=start_ns // 1000000000)
    # -S: the NIC starts the VM once the chassis is there
    return ["-S", "-icount", f"shift={b.icount_shift},sleep=off",
            "-rtc", f"base={base.isoformat()},clock=vm"]


def make_blade(topo, ch, b, accel, run_path, manifest, qemu_bin,
               start_ns=0):
    files = chassis_files(run_path, ch)
    virtual = topo.virtual()
    return blade_mod.Blade(
        b.name, accel="tcg" if virtual else accel, memory=b.memory,
        cpus=b.cpus, mac=b.mac,
        nic_args=nic_args(ch, b, files["backplane"], virtual, start_ns),
        extra_args=virtual_blade_args(b, start_ns) if virtual else (),
        append=blade_append(topo, ch, b), run_dir=files["dir"],
        manifest=manifest, qemu_bin=qemu_bin)


def image_manifest(topo):
    """The kernel and initrd the blades boot: the topology's, else the image
    `bladeplane image` builds."""
    if topo.image.kernel:
        return {"kernel": topo.image.kernel, "initramfs": topo.image.initrd}
    from . import image
    return image.build()


# ---- QMP helpers ----------------------------------------------------------------


def python_names(tree):
    """A QAPI result with its member names (`rx-frames`) as the CLI's
    (`rx_frames`): the tree every view reads and `status --json` prints."""
    if isinstance(tree, dict):
        return {k.replace("-", "_"): python_names(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [python_names(v) for v in tree]
    return tree


def switch_state(q):
    """The switch's state (`query-blade-switch`, docs/switch-blade.md)."""
    value = q.execute("query-blade-switch", {"switch": SWITCH_PATH})
    if not isinstance(value, dict):
        raise QMPError(f"{q.what}: the switch's state is not an object")
    return python_names(value)


def read_switch(qmp_path, what, timeout=10):
    with QMP.connect(qmp_path, what, timeout) as q:
        return switch_state(q)


def wait_qmp(proc, qmp_path, what, log_path, timeout):
    """Wait until QEMU answers on its QMP socket (it then runs its main
    loop: its devices are realized)."""
    deadline = time.monotonic() + timeout
    while True:
        rc = proc.poll()
        if rc is not None:
            raise Failure(f"{what}: QEMU exited (status {rc}): "
                          f"{last_line(log_path) or 'no message'} "
                          f"(log: {log_path})")
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure(f"{what}: QMP did not answer within {timeout} s "
                          f"(log: {log_path})")
        try:
            with QMP.connect(qmp_path, what, timeout=min(left, 5)) as q:
                q.execute("query-status")
                return
        except QMPError:
            time.sleep(0.05)


# ---- up -------------------------------------------------------------------------


def switch_properties(qemu_bin):
    """The blade-switch properties a QEMU binary knows (empty if it has no
    such device or does not run)."""
    try:
        out = subprocess.run([qemu_bin, "-device", "blade-switch,help"],
                             capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return set(re.findall(r"^\s*([a-z][a-z0-9-]*)=", out, re.M))


def check_device(qemu_bin, topo):
    """Linked chassis need a switch with chain ports: say so in one line
    rather than let every chassis fail on an unknown property."""
    if not topo.multi():
        return
    wanted = {"chain", "chassis", "chassis-id"}
    if topo.virtual():
        wanted.add("chain-chardev0")
    missing = wanted - switch_properties(qemu_bin)
    if missing:
        raise Failure(f"{qemu_bin}: its blade-switch has no "
                      f"{', '.join(sorted(missing))} property: it predates "
                      f"chain ports, so it cannot link chassis (topology "
                      f"{topo.name}); rebuild it from this checkout "
                      f"(scripts/bladeplane setup)")


def check_host_ports(ch, topo=None):
    """Fail with one line if a forwarded host port, or the TCP port a
    link to another host listens on, is taken (QEMU would only say it
    could not set up the rule)."""
    for f in (ch.uplink.forwards if ch.uplink is not None else []):
        kind = socket.SOCK_STREAM if f.protocol == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        if f.protocol == "tcp":
            # As QEMU's own listener: connections of an earlier run waiting
            # in TIME_WAIT do not make the port busy.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((f.host_addr or "0.0.0.0", f.host_port))
        except OSError as e:
            why = ("in use" if e.errno == errno.EADDRINUSE else e.strerror)
            raise Failure(f"chassis {ch.name}: host port {f.protocol}:"
                          f"{f.host_addr or '*'}:{f.host_port} of forward "
                          f"{f.rule()} is {why}")
        finally:
            s.close()
    for link, port in (topo.links_of(ch.name) if topo is not None else []):
        if link.b is not None or not link.listen:
            continue
        what = (f"chassis {ch.name}: port tcp:{link.peer_host}:"
                f"{link.peer_port} that link[{link.index}] listens on")
        try:
            infos = socket.getaddrinfo(link.peer_host, link.peer_port,
                                       type=socket.SOCK_STREAM)
        except OSError as e:
            raise Failure(f"{what}: cannot resolve {link.peer_host} "
                          f"({e.strerror or e})")
        family, _, _, _, address = infos[0]
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            raise Failure(f"{what} is " + ("in use" if e.errno ==
                                           errno.EADDRINUSE else e.strerror))
        finally:
            s.close()


def blade_key(entry, local=None):
    """A blade of a switch's state tree as (chassis, slot): a slot alone no
    longer says which blade once the switch lists the blades of other
    chassis ("remote": true, with their chassis's name).  `local` names
    the switch's own chassis."""
    chassis = entry.get("chassis") if entry.get("remote") else local
    return (chassis, entry.get("slot"))


def remote_blades(state):
    """{(chassis, slot): entry} of the other chassis's blades a switch
    lists."""
    return {blade_key(b): b for b in state.get("blades", [])
            if b.get("remote")}


def fabric_ports_text(state):
    """A switch's chain ports in a few words: for messages."""
    ports = (state.get("fabric") or {}).get("ports") or []
    if not ports:
        return "no chain ports in its state"
    out = []
    for p in ports:
        words = [p.get("name", "?"), "up" if p.get("link") else "down"]
        if p.get("link"):
            words.append(p.get("state") or ("forwarding" if p.get("forwarding")
                                            else "blocked"))
            words.append(f"neighbour {p['neighbour']}" if p.get("neighbour")
                         else "no neighbour heard")
        out.append(" ".join(str(w) for w in words))
    return ", ".join(out)


def _record(kind, name, pid, marker, **more):
    rec = {"kind": kind, "name": name, "pid": pid, "marker": marker}
    rec.update(more)
    return rec


class Launcher:
    """Brings a topology up; on any failure stops what it started."""

    def __init__(self, topo, accel, qemu_bin, manifest, out=print,
                 ready_timeout=READY_TIMEOUT,
                 rotation_timeout=ROTATION_TIMEOUT,
                 fabric_timeout=FABRIC_TIMEOUT):
        self.topo = topo
        self.fabric_timeout = fabric_timeout
        self.accel = accel
        self.qemu_bin = qemu_bin
        self.manifest = manifest
        self.out = out
        self.ready_timeout = ready_timeout
        self.rotation_timeout = rotation_timeout
        self.run: rundir.Run | None = None     # up() makes it
        self.blades = {}            # name -> blade.Blade (background)
        self.procs = []             # every Popen started
        # virtual time: blade -> the chassis's time at its 0 (a restart)
        self.vtime_start: dict[str, int] = {}
        # ... and of chassis restarted mid-run: where their clocks start
        self.chassis_start: dict[str, int] = {}

    def _rundir(self) -> rundir.Run:
        """The run directory: made by up(), or set for a restart."""
        if self.run is None:
            raise RuntimeError("Launcher: no run directory yet")
        return self.run

    def up(self) -> tuple[rundir.Run, dict[str, str]]:
        """The run directory, and {blade: reason} for the blades not in
        rotation when the wait for them ended."""
        for ch in self.topo.chassis:
            check_host_ports(ch, self.topo)
        self.run = rundir.create(self.topo.name)
        self.run.save({
            "format": rundir.STATE_FORMAT, "name": self.topo.name,
            "topology": self.topo.path, "started": rundir.now_iso(),
            "up_pid": os.getpid(), "phase": "starting", "accel": self.accel,
            "qemu": self.qemu_bin,
            "kernel": self.manifest["kernel"],
            "initrd": self.manifest["initramfs"],
            "spec": self.topo.to_dict(), "chassis": {}, "processes": []})
        try:
            # Each chassis's services and steering rules go in as soon as
            # it is up, before any blade starts.  In virtual time the
            # chassis's clock stays at 0 until all its blades are connected
            # (vtime-slots), so they are there from virtual time 0 on
            # every run; added once the blades were ready, they came in at
            # whatever virtual time the host had got to, and a client's
            # first requests found them or not.  Real time does the same,
            # one order for both: nothing reaches a VIP before `up` is
            # done but a host client on a forwarded port, which found no
            # service then and finds no blade in rotation now (both are
            # dropped), and `restart` has always configured a chassis
            # before its blades were back.
            for ch in self.topo.chassis:
                self._start_chassis(ch)
                self._configure(ch)
            self._start_blades()
            not_in = {}
            for ch in self.topo.chassis:
                not_in.update(self._wait_rotation(ch))
            self._wait_fabric()
            for ch in self.topo.chassis:
                self._impair(ch)
            self.run.state["phase"] = "up"
            self.run.save()
        except BaseException as e:
            self._abort(e)
            raise
        finally:
            for b in self.blades.values():
                b.disconnect()
            for proc in self.procs:
                detach(proc)
        return self.run, not_in

    def _abort(self, exc):
        if self.run is None:
            return
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.out(f"bladeplane: up {what}: stopping what it started "
                 f"(logs stay in {self.run.path})")
        for b in self.blades.values():
            b.disconnect()
        rundir.stop_topology(self.run.processes(), quit_timeout=5,
                             virtual=self.topo.virtual())
        self.run.state["phase"] = "failed"
        self.run.save()

    def _add_process(self, rec):
        run = self._rundir()
        run.state["processes"].append(rec)
        run.save()

    def _start_chassis(self, ch, restart=False):
        run = self._rundir()
        files = chassis_files(run.path, ch)
        if restart:
            rundir.check_private(files["dir"])
            if not os.path.isdir(files["backplane"]):
                rundir.make_private(files["backplane"])
        else:
            rundir.make_private(files["dir"])
            rundir.make_private(files["backplane"])
        argv = chassis_argv(self.qemu_bin, ch, files, self.topo,
                            run.path, self.chassis_start.get(ch.name, 0))
        step(f"chassis {ch.name}: {ch.slots} slots, uplink "
             f"{describe_uplink(ch, self.topo)}" + "".join(
                 f", {port} {describe_link(link, ch.name)}"
                 for link, port in self.topo.links_of(ch.name)))
        with open(files["log"], "ab") as log:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        with open(files["pid"], "w") as f:
            f.write(f"{proc.pid}\n")
        rec = _record("chassis", ch.name, proc.pid, files["qmp"],
                      chassis=ch.name, qmp=files["qmp"], log=files["log"],
                      pid_file=files["pid"])
        procs = run.state["processes"]
        old = [i for i, p in enumerate(procs)
               if p["kind"] == "chassis" and p["name"] == ch.name]
        if old:
            procs[old[0]] = rec
            run.save()
        else:
            self._add_process(rec)
        run.state["chassis"][ch.name] = {
            "qmp": files["qmp"], "switch": SWITCH_PATH,
            "backplane": files["backplane"], "log": files["log"]}
        run.save()
        wait_qmp(proc, files["qmp"], f"chassis {ch.name}", files["log"], 30)
        try:
            read_switch(files["qmp"], f"chassis {ch.name}")
        except QMPError as e:
            raise Failure(f"chassis {ch.name}: no switch state ({e})")

    def _start_blades(self, pairs=None):
        """Boot the topology's blades (or the (chassis, blade) pairs
        given: a restart) and wait for their ready lines."""
        pairs = self.topo.blades() if pairs is None else pairs
        if not pairs:
            return
        step(f"booting {len(pairs)} blade{'s' if len(pairs) > 1 else ''} "
             f"under {self.accel}")
        run = self._rundir()
        for ch, b in pairs:
            blade = make_blade(self.topo, ch, b, self.accel, run.path,
                               self.manifest, self.qemu_bin,
                               self.vtime_start.get(b.name, 0))
            with open(blade.log_path, "ab") as log:
                log.write(f"$ {' '.join(blade.argv)}\n".encode())
            blade.start()
            self.procs.append(blade.proc)
            self.blades[b.name] = blade
            rec = _record(
                "blade", b.name, blade.proc.pid, blade.qmp_path,
                chassis=ch.name, slot=b.slot, qmp=blade.qmp_path,
                console=blade.console_path,
                console_log=blade.serial_log_path, log=blade.log_path,
                pid_file=blade.pid_path)
            procs = run.state["processes"]
            old = [i for i, p in enumerate(procs)
                   if p["kind"] == "blade" and p["name"] == b.name]
            if old:
                procs[old[0]] = rec
                run.save()
            else:
                self._add_process(rec)
        progress = Progress("blades ready", every=10)
        start = time.monotonic()
        deadline = start + self.ready_timeout
        ready: dict[str, float] = {}      # blade -> seconds to its line
        while len(ready) < len(pairs):
            for ch, b in pairs:
                if b.name in ready:
                    continue
                info = self.blades[b.name].poll_ready()
                if info is not None:
                    ready[b.name] = time.monotonic() - start
                    progress.update(f"{len(ready)}/{len(pairs)}: {b.name} "
                                    f"ready", force=True)
            if len(ready) == len(pairs):
                break
            if time.monotonic() > deadline:
                waiting = [b.name for _, b in pairs if b.name not in ready]
                raise Failure(f"blade {waiting[0]} did not print its ready "
                              f"line within {self.ready_timeout} s (console "
                              f"log: {self.blades[waiting[0]].serial_log_path})")
            progress.update(f"{len(ready)}/{len(pairs)}")
            time.sleep(0.1)
        progress.done(f"{len(pairs)}/{len(pairs)}")
        for ch, b in pairs:
            info = self.blades[b.name].ready_info
            if info.get("link") != "up":
                state = "unknown"
                try:
                    state = self.blades[b.name].qmp(
                        "qom-get", path=NIC_PATH, property="link-state")
                except Failure:
                    pass
                raise Failure(f"blade {b.name} (slot {b.slot}) booted but its "
                              f"link is {info.get('link')}: blade-nic says "
                              f"'{state}'")

    def _configure(self, ch):
        if not (ch.services or ch.steering):
            return
        qmp_path = self._rundir().state["chassis"][ch.name]["qmp"]
        with QMP.connect(qmp_path, f"chassis {ch.name}") as q:
            for r in ch.steering:
                args = {"name": r.name, "protocol": r.protocol,
                        "port-min": r.port_min, "port-max": r.port_max,
                        "blades": r.blades, "policy": r.policy}
                if r.vip:
                    args["vip"] = r.vip
                if r.remote:
                    args["remote"] = True
                q.execute("blade-switch-add-steering", args)
            for s in ch.services:
                args = {"name": s.name, "vip": s.vip, "protocol": s.protocol,
                        "port": s.port, "blades": s.blades,
                        "policy": s.policy}
                if s.remote:
                    args["remote"] = True
                q.execute("blade-switch-add-service", args)
        say(f"chassis {ch.name}: {len(ch.services)} service(s), "
            f"{len(ch.steering)} steering rule(s) configured")

    def _wait_rotation(self, ch, names=None):
        """Wait until every blade (or those named) is in rotation (its
        port up, its MAC learned, its reports fresh).  A blade whose MAC
        the switch has not learned after a few seconds is asked to
        announce itself (a gratuitous ARP from its console), in real time
        only: in virtual time console input lands at whatever virtual
        time the host types it, and the run would no longer be the same
        (the blade announces itself at boot anyway, at the same point of
        every run).  Returns {blade: reason} for those still out when the
        time is up."""
        held_down = {i.blade for i in ch.impairments if i.link_down}
        want = {b.slot: b for b in ch.blades if b.name not in held_down
                and (names is None or b.name in names)}
        if not want:
            return {}
        qmp_path = self._rundir().state["chassis"][ch.name]["qmp"]
        start = time.monotonic()
        poke = not self.topo.virtual()
        poked = set()
        progress = Progress("blades in rotation", every=10)
        while True:
            state = read_switch(qmp_path, f"chassis {ch.name}")
            out = {}
            for entry in state.get("blades", []):
                if entry.get("remote"):
                    continue            # another chassis's blade
                b = want.get(entry.get("slot"))
                if b and not entry.get("in_rotation"):
                    out[b.name] = entry
            if not out:
                progress.done(f"{len(want)}/{len(want)}")
                return {}
            elapsed = time.monotonic() - start
            if elapsed > self.rotation_timeout:
                progress.done(f"{len(want) - len(out)}/{len(want)}")
                return {name: e.get("reason", "?") for name, e in out.items()}
            if poke and elapsed > 3:
                for name, entry in out.items():
                    if entry.get("mac") is None and name not in poked:
                        poked.add(name)
                        self._announce(self.blades.get(name))
            progress.update(f"{len(want) - len(out)}/{len(want)}")
            time.sleep(0.25)

    def _wait_fabric(self):
        """A chassis whose services the other chassis's blades serve too
        (remote) must see those blades: wait until it lists every blade of
        every other chassis of the topology, in rotation (the switches'
        advertisements have gone round).  Failure naming what is missing
        when the time is up."""
        topo = self.topo
        if not topo.multi():
            return
        wanted = {}
        for ch in topo.chassis:
            if any(r.remote for r in ch.services + ch.steering):
                want = {(c.name, b.slot): b.name for c in topo.chassis
                        if c is not ch for b in c.blades}
                if want:
                    wanted[ch.name] = want
        if not wanted:
            return
        interval = (topo.fabric.interval or 100) / 1000
        timeout = max(self.fabric_timeout, 20 * interval)
        total = sum(len(w) for w in wanted.values())
        progress = Progress("fabric: remote blades seen", every=10)
        start = time.monotonic()
        while True:
            missing = {}
            for name, want in wanted.items():
                qmp_path = self._rundir().state["chassis"][name]["qmp"]
                state = read_switch(qmp_path, f"chassis {name}")
                seen = remote_blades(state)
                miss = []
                for key, blade_name in want.items():
                    entry = seen.get(key)
                    if entry is None:
                        miss.append(f"blade {blade_name} (chassis {key[0]}, "
                                    f"slot {key[1]})")
                    elif entry.get("in_rotation") is False:
                        miss.append(f"blade {blade_name} (chassis {key[0]}, "
                                    f"slot {key[1]}) in rotation (it is out: "
                                    f"{entry.get('reason', '?')})")
                if miss:
                    missing[name] = (miss, state)
            left = sum(len(m) for m, _ in missing.values())
            if not missing:
                progress.done(f"{total}/{total}")
                return
            if time.monotonic() - start > timeout:
                progress.done(f"{total - left}/{total}")
                name, (miss, state) = next(iter(missing.items()))
                more = left - len(miss)
                raise Failure(
                    f"the fabric did not converge within {timeout:g} s: "
                    f"chassis {name} does not see {', '.join(miss)}"
                    + (f" (and {more} more in other chassis)" if more else "")
                    + f"; its chain ports: {fabric_ports_text(state)}")
            progress.update(f"{total - left}/{total}")
            time.sleep(0.25)

    def _wait_links(self, ch):
        """ch's links to chassis of this host: up, the neighbour heard
        and past the spanning tree's listening (forwarding, or blocked
        for a loop), so that frames cross them once a restart returns.
        Failure naming the ports when the time is up."""
        ports = [port for link, port in self.topo.links_of(ch.name)
                 if link.b is not None]
        if not ports:
            return
        interval = (self.topo.fabric.interval or 100) / 1000
        timeout = max(self.fabric_timeout, 20 * interval)
        qmp_path = self._rundir().state["chassis"][ch.name]["qmp"]
        deadline = time.monotonic() + timeout
        while True:
            state = read_switch(qmp_path, f"chassis {ch.name}")
            seen = {p.get("name"): p for p in
                    (state.get("fabric") or {}).get("ports") or []}
            if all(seen.get(port, {}).get("link") and
                   seen[port].get("neighbour") and
                   seen[port].get("state") != "listening"
                   for port in ports):
                return
            if time.monotonic() > deadline:
                raise Failure(f"chassis {ch.name}: its links did not settle "
                              f"within {timeout:g} s: "
                              f"{fabric_ports_text(state)}")
            time.sleep(0.1)

    def _announce(self, b):
        if b is None or not b.ready_info or not b.ready_info.get("nic"):
            return
        ip = b.ready_info.get("ip", "").split("/")[0]
        try:
            b.run(f"arping -U -c 1 -I {b.ready_info['nic']} {ip} >/dev/null",
                  timeout=20)
        except Failure:
            pass                # the rotation wait reports what is left

    def _impair(self, ch, names=None):
        bers = []
        for imp in ch.impairments:
            if names is not None and imp.blade not in names:
                continue
            b = self.blades[imp.blade]
            if imp.link_down:
                b.qmp("qom-set", path=NIC_PATH, property="inject-link-down",
                      value=True)
            if imp.sync_loss:
                b.qmp("qom-set", path=NIC_PATH, property="inject-sync-loss",
                      value=True)
            if imp.code_errors:
                b.qmp("qom-set", path=NIC_PATH, property="inject-code-errors",
                      value=imp.code_errors)
            if imp.ber:
                bers.append(imp)
            say(f"blade {imp.blade}: impaired ({describe_impairment(imp)})")
        if bers:
            self._start_injector()

    def _start_injector(self):
        run = self._rundir()
        if any(p["kind"] == "injector" for p in run.processes()):
            return
        log = os.path.join(run.path, "impair.log")
        pid_file = os.path.join(run.path, "impair.pid")
        argv = [sys.executable, "-m", "bladeplane_cli.impair", run.path]
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "scripts"))
        with open(log, "ab") as f:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f,
                                    stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        self.procs.append(proc)
        with open(pid_file, "w") as f:
            f.write(f"{proc.pid}\n")
        self._add_process(_record("injector", "impair", proc.pid,
                                  run.path, log=log, pid_file=pid_file))


def detach(proc):
    """Let a background process go: it outlives this command, and its end
    is observed through its pid (rundir.process_alive, which also reaps it
    while it is still our child), never through this Popen object, which
    would otherwise warn that it is still running when collected."""
    if proc.poll() is None:
        proc.returncode = 0


def describe_link(link, here):
    """A link as seen from chassis `here`."""
    if link.b is None:
        how = "listens on" if link.listen else "connects to"
        return f"{how} tcp:{link.peer_host}:{link.peer_port} (another host)"
    far, far_port = ((link.b, link.b_port) if link.a == here
                     else (link.a, link.a_port))
    return f"to {far}.{far_port}"


def describe_uplink(ch, topo):
    if ch.uplink is None:
        return ("none (virtual time has no real-time networking)"
                if topo.virtual() else
                "none (reached through the other chassis)")
    if ch.uplink.kind == "netdev":
        return f"-netdev {ch.uplink.netdev}"
    fw = ", ".join(f.rule() for f in ch.uplink.forwards) or "no forwards"
    return f"user networking {ch.subnet} ({fw})"


def describe_impairment(imp):
    parts = []
    if imp.link_down:
        parts.append("link held down")
    if imp.sync_loss:
        parts.append("one loss of sync")
    if imp.code_errors:
        parts.append(f"{imp.code_errors} code-group errors")
    if imp.ber:
        parts.append(f"BER {imp.ber:g}")
    return ", ".join(parts)


def up(topo, accel, qemu_bin, manifest, ready_timeout=READY_TIMEOUT,
       rotation_timeout=ROTATION_TIMEOUT):
    """Start a topology; prints where things are.  Returns the Run."""
    launcher = Launcher(topo, accel, qemu_bin, manifest,
                        ready_timeout=ready_timeout,
                        rotation_timeout=rotation_timeout)
    run, not_in = launcher.up()
    print_summary(run, topo, not_in)
    return run


def _relauncher(run, spec, qemu_bin, **timeouts):
    """A Launcher for processes of the topology that is up in run, with
    the QEMU binary, accelerator and image it was brought up with."""
    state = run.state
    if qemu_bin is None:
        from . import qemu
        qemu_bin = state.get("qemu") or qemu.QEMU_BIN
    launcher = Launcher(spec, state.get("accel"), qemu_bin,
                        {"kernel": state.get("kernel"),
                         "initramfs": state.get("initrd")}, **timeouts)
    launcher.run = run
    return launcher


def _stop_for_restart(rec, kind, name):
    """Stop one process of a topology before it is started again."""
    if rundir.process_alive(rec):
        how = rundir.stop([rec], quit_timeout=10)[name]
        if how == "still running":
            raise Failure(f"{kind} {name} does not stop (pid {rec['pid']})")
        say(f"{kind} {name}: stopped ({how})")


def _port_rejoin_ns(name, qmp_path, match, port, gone, timeout):
    """Virtual time: the rejoin-ns of the port of chassis name's switch
    that match(port state) picks (described as port), once it shows its
    peer gone (gone: who stopped, for the message)."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_switch(qmp_path, f"chassis {name}")
        info = next((p for p in state.get("ports", []) if match(p)), None)
        if info is None or "vtime" not in info:
            raise Failure(f"chassis {name}: no {port} in virtual time in "
                          f"the switch's state")
        if not info.get("connected"):
            return int(info["vtime"]["rejoin_ns"])
        if time.monotonic() > deadline:
            raise Failure(f"chassis {name}: {port} still has a peer "
                          f"{timeout:g} s after {gone} stopped")
        time.sleep(0.1)


def vtime_rejoin_ns(qmp_path, ch, b, timeout=10.0):
    """Virtual time: where the clock of a blade restarted in b's slot must
    start (the slot's vtime rejoin-ns, docs/switch-blade.md), once the
    switch has seen the old blade go.  With vtime-slots, as `up` sets it,
    the chassis's clock waits meanwhile, so the figure holds until the new
    blade connects."""
    return _port_rejoin_ns(
        ch.name, qmp_path,
        lambda p: p.get("kind") == "slot" and p.get("slot") == b.slot,
        f"slot {b.slot}", f"blade {b.name}", timeout)


def _nic_rejoin_ns(rec, timeout):
    """Virtual time: a blade's vtime-rejoin-ns once its NIC has seen the
    chassis go, and its VM has stopped at its horizon (so that it sends
    nothing stamped earlier than it will when the new chassis comes)."""
    deadline = time.monotonic() + timeout
    with QMP.connect(rec["qmp"], f"blade {rec['name']}") as q:
        while q.execute("qom-get", {"path": NIC_PATH,
                                    "property": "link-state"}) != \
                "down: chassis absent":
            if time.monotonic() > deadline:
                raise Failure(f"blade {rec['name']}: its NIC still sees a "
                              f"chassis {timeout:g} s after it stopped")
            time.sleep(0.05)
        while q.execute("query-status").get("status") != "paused":
            if time.monotonic() > deadline:
                break       # computing still: what it sends may come late
            time.sleep(0.05)
        return int(q.execute("qom-get", {"path": NIC_PATH,
                                         "property": "vtime-rejoin-ns"}))


def vtime_chassis_rejoin_ns(run, spec, ch, timeout=10.0):
    """Virtual time: where the clock of a chassis restarted in the middle
    of a run must start: the latest of its blades' vtime-rejoin-ns and of
    the rejoin-ns of the chain ports facing it, read once each has seen
    the old chassis go (docs/virtual-time.md, "Restarts").  Its blades
    and the chassis beyond its links wait meanwhile, so the figure holds
    until it connects."""
    start = 0
    for rec in run.processes():
        if rec["kind"] == "blade" and rec.get("chassis") == ch.name and \
                rec.get("qmp") and rundir.process_alive(rec):
            start = max(start, _nic_rejoin_ns(rec, timeout))
    for link, _ in spec.links_of(ch.name):
        other = link.b if link.a == ch.name else link.a
        port = next(f"chain{i}" for i, (lk, _) in
                    enumerate(spec.links_of(other)) if lk is link)
        start = max(start, _port_rejoin_ns(
            other, run.state["chassis"][other]["qmp"],
            lambda p, port=port: p.get("name") == port, port,
            f"chassis {ch.name}", timeout))
    return start


def restart(run, name, qemu_bin=None, rotation_timeout=ROTATION_TIMEOUT,
            fabric_timeout=FABRIC_TIMEOUT):
    """Restart one chassis of a topology that is up (stopping it first if
    it runs): its switch comes back with the same command line, its chain
    ports reconnect to the other chassis (waited for until they forward,
    or block a loop), its blades' lanes reconnect, and its services are
    configured again.  The other processes are left alone.  Returns
    {blade: reason} for its blades not in rotation."""
    state = run.state
    spec = topology.from_dict(state["spec"])
    ch = spec.by_name(name)
    if ch is None:
        raise Failure(f"no chassis {name!r} in topology {run.name} (chassis: "
                      f"{', '.join(c.name for c in spec.chassis)})")
    remote = [port for link, port in spec.links_of(name) if link.b is None]
    if spec.virtual() and remote:
        raise Failure(f"restart {name}: in virtual time a new switch starts "
                      f"where its links stand, and {remote[0]} goes to a "
                      f"chassis on another host, whose clock this host "
                      f"cannot read: bring the run down and up again "
                      f"(docs/virtual-time.md, \"Restarts\")")
    rec = next((p for p in run.processes()
                if p["kind"] == "chassis" and p["name"] == name), None)
    if rec is None:
        raise Failure(f"topology {run.name} has no process for chassis "
                      f"{name}: bring it down and up again")
    launcher = _relauncher(run, spec, qemu_bin,
                           rotation_timeout=rotation_timeout,
                           fabric_timeout=fabric_timeout)
    _stop_for_restart(rec, "chassis", name)
    if spec.virtual():
        start = vtime_chassis_rejoin_ns(run, spec, ch)
        launcher.chassis_start[name] = start
        say(f"chassis {name}: virtual time: its clock starts at {start} ns")
    try:
        launcher._start_chassis(ch, restart=True)
        launcher._configure(ch)
        not_in = launcher._wait_rotation(ch)
        launcher._wait_links(ch)
        launcher._wait_fabric()
    finally:
        for proc in launcher.procs:
            detach(proc)
    for blade_name, reason in not_in.items():
        print(f"bladeplane: warning: blade {blade_name} is not in rotation: "
              f"{reason}", file=sys.stderr)
    print(f"chassis {name} of topology {run.name} is up again")
    return not_in


def restart_blade(run, ident, qemu_bin=None, ready_timeout=READY_TIMEOUT,
                  rotation_timeout=ROTATION_TIMEOUT,
                  fabric_timeout=FABRIC_TIMEOUT):
    """Restart one blade of a topology that is up (stopping it first if it
    runs): its QEMU comes back with the same command line, boots, its lane
    reconnects to its chassis's backplane, its impairments are applied
    again, and it is waited for in rotation (and, where services are
    shared with other chassis, in the fabric).  The other processes are
    left alone.  `ident` is NAME or CHASSIS.NAME.  Returns {blade: reason}
    if it is not in rotation."""
    state = run.state
    spec = topology.from_dict(state["spec"])
    cname, _, name = ident.rpartition(".")
    recs = [p for p in run.processes() if p["kind"] == "blade" and
            p["name"] == name and (not cname or p.get("chassis") == cname)]
    if not recs:
        names = ", ".join(p["name"] for p in run.processes()
                          if p["kind"] == "blade")
        raise Failure(f"no blade {ident!r} in topology {run.name} (blades: "
                      f"{names or 'none'})")
    rec = recs[0]
    ch = spec.by_name(rec.get("chassis"))
    b = ch.blade(name) if ch is not None else None
    if b is None:
        raise Failure(f"topology {run.name}: blade {ident} is not in its "
                      f"description: bring it down and up again")
    launcher = _relauncher(run, spec, qemu_bin, ready_timeout=ready_timeout,
                           rotation_timeout=rotation_timeout,
                           fabric_timeout=fabric_timeout)
    _stop_for_restart(rec, "blade", name)
    if spec.virtual():
        # its clock starts where the chassis's link with the old one stands
        start = vtime_rejoin_ns(run.state["chassis"][ch.name]["qmp"], ch, b)
        launcher.vtime_start[name] = start
        say(f"blade {name}: virtual time: its 0 is the chassis's {start} ns")
    # The new QEMU truncates the console log only once it runs: a ready
    # line the old one left there must not pass for the new one's.  Keep
    # the old log beside it.
    if rec.get("console_log") and os.path.exists(rec["console_log"]):
        os.replace(rec["console_log"], rec["console_log"] + ".prev")
    try:
        launcher._start_blades([(ch, b)])
        launcher._impair(ch, {name})
        not_in = launcher._wait_rotation(ch, {name})
        launcher._wait_fabric()
    finally:
        for bl in launcher.blades.values():
            bl.disconnect()
        for proc in launcher.procs:
            detach(proc)
    for blade_name, reason in not_in.items():
        print(f"bladeplane: warning: blade {blade_name} is not in rotation: "
              f"{reason}", file=sys.stderr)
    print(f"blade {name} of topology {run.name} is up again")
    return not_in


def restart_named(run, name):
    """`bladeplane restart NAME`: a chassis, or a blade (NAME or
    CHASSIS.NAME); a name that is both must be given as CHASSIS.NAME for
    the blade."""
    spec = topology.from_dict(run.state["spec"])
    cname, _, bname = name.rpartition(".")
    is_chassis = not cname and spec.by_name(name) is not None
    is_blade = any(p["kind"] == "blade" and p["name"] == bname and
                   (not cname or p.get("chassis") == cname)
                   for p in run.processes())
    if is_chassis and is_blade:
        raise Failure(f"{name!r} is both a chassis and a blade of topology "
                      f"{run.name}: name the blade CHASSIS.{name}")
    if is_chassis:
        return restart(run, name)
    if is_blade or cname:
        return restart_blade(run, name)     # says what is missing
    blades = [p["name"] for p in run.processes() if p["kind"] == "blade"]
    raise Failure(f"no chassis or blade {name!r} in topology {run.name} "
                  f"(chassis: {', '.join(c.name for c in spec.chassis)}; "
                  f"blades: {', '.join(blades) or 'none'})")


def print_summary(run, topo, not_in):
    state = run.state
    print(f"topology {topo.name} is up: run directory {run.path}")
    for ch in topo.chassis:
        cs = state["chassis"][ch.name]
        what = " (central switch)" if ch.role == "central" else ""
        ident = (f", id {ch.chassis_id}" + (f", priority {ch.priority}"
                                             if ch.priority is not None else "")
                 if topo.multi() else "")
        print(f"  chassis {ch.name}{what}{ident}: QMP {cs['qmp']}, log "
              f"{cs['log']}")
        print(f"    uplink: {describe_uplink(ch, topo)}")
        for link, port in topo.links_of(ch.name):
            print(f"    {port}: {describe_link(link, ch.name)}")
        for b in ch.blades:
            rec = next(p for p in state["processes"] if p["name"] == b.name)
            note = f"  NOT IN ROTATION: {not_in[b.name]}" if b.name in not_in else ""
            print(f"    slot {b.slot}: {b.name} {b.ip}, console log "
                  f"{rec['console_log']}{note}")
        for s in ch.services:
            urls = [f"{f.protocol}://{f.host_addr or 'localhost'}:{f.host_port}"
                    for f in (ch.uplink.forwards if ch.uplink else [])
                    if f.guest_addr == s.vip and (s.port in (0, f.guest_port))]
            print(f"    service {s.name}: {s.vip} {s.protocol}/"
                  f"{s.port or '*'} on {_members(topo, ch, s)} ({s.policy})"
                  + (f", from the host: {', '.join(urls)}" if urls else ""))
        for r in ch.steering:
            ports = (f"{r.port_min}" if r.port_min == r.port_max
                     else f"{r.port_min}-{r.port_max}")
            print(f"    steering {r.name}: {r.vip or 'any VIP'} {r.protocol}/"
                  f"{ports} to {_members(topo, ch, r)} ({r.policy})")
    for name, reason in not_in.items():
        print(f"bladeplane: warning: blade {name} is not in rotation: {reason}",
              file=sys.stderr)
    n = topo.name
    first = topo.blades()[0][1].name if topo.blades() else "BLADE"
    port = first if topo.multi() and topo.blades() else "slot0"
    print(f"next: bladeplane status {n} | top {n} | console {first} | "
          f"capture {port} | down {n}")


def _members(topo, ch, rule):
    """The blades of a service or steering rule, for people."""
    local = ",".join(b.name for b in ch.blades if b.slot in rule.blades)
    if not rule.remote:
        return local
    others = [c.name for c in topo.chassis if c is not ch and c.blades]
    far = "the blades of " + (", ".join(others) if others else
                              "the other chassis")
    return f"{local} and {far}" if local else far


# ---- down -----------------------------------------------------------------------


def down(run):
    procs = run.processes()
    step(f"stopping topology {run.name} ({len(procs)} processes)")
    start = time.monotonic()
    how = rundir.stop_topology(
        procs, virtual=topology.from_dict(run.state["spec"]).virtual())
    stuck = [n for n, h in how.items() if h == "still running"]
    if stuck:
        raise Failure(f"could not stop {', '.join(stuck)} (even with SIGKILL); "
                      f"run directory {run.path} kept")
    # Helpers stop on SIGTERM by design, and so do blades in virtual time;
    # QEMU should have quit on request.
    helpers = {p["name"] for p in procs if p["kind"] == "injector"}
    forced = [f"{n} ({h})" for n, h in how.items()
              if h.startswith("SIG") and n not in helpers]
    run.remove()
    print(f"    stopped in {time.monotonic() - start:.1f} s"
          + (f"; had to signal {', '.join(forced)}" if forced else "")
          + f"; removed {run.path}")


# ---- capture --------------------------------------------------------------------


def find_port(spec, text):
    """(chassis, port, slot-or-None) for PORT text in a Topology: uplink,
    slotN, chainN or a blade's name, CHASSIS.PORT where the port's name
    alone does not say which chassis."""
    chassis = spec.chassis
    named = "." in text
    if named:
        cname, _, port = text.partition(".")
        chassis = [c for c in spec.chassis if c.name == cname]
        if not chassis:
            raise Failure(f"no chassis {cname!r} (chassis: "
                          f"{', '.join(c.name for c in spec.chassis)})")
        text = port
    ch = chassis[0]
    numbered = re.match(r"^(slot|chain)(\d+)$", text)
    if text == "uplink":
        if not named:
            ch = spec.front() or ch
        if ch.uplink is None:
            raise Failure(f"chassis {ch.name} has no uplink")
        return ch, "uplink", None
    if numbered and not named and len(spec.chassis) > 1:
        raise Failure(f"which chassis's {text}? name it CHASSIS.{text} "
                      f"(chassis: {', '.join(c.name for c in spec.chassis)})")
    if numbered and numbered.group(1) == "slot":
        slot = int(numbered.group(2))
        if slot >= ch.slots:
            raise Failure(f"chassis {ch.name} has slots 0..{ch.slots - 1}, "
                          f"not {slot}" if ch.slots else
                          f"chassis {ch.name} has no slots")
        return ch, text, slot
    if numbered:
        if text not in ch.chain:
            raise Failure(f"chassis {ch.name} has no port {text} (chain "
                          f"ports: {', '.join(ch.chain) or 'none'})")
        return ch, text, None
    for c in chassis:
        b = c.blade(text)
        if b is not None and not text.isdigit():
            return c, f"slot{b.slot}", b.slot
    names = ", ".join(b.name for _, b in spec.blades())
    raise Failure(f"no port {text!r}: name uplink, slotN, chainN or a blade "
                  f"({names or 'no blades'})")


def pcap_frames(path):
    """Frames in a pcap file (None if it is not one)."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
            if len(head) < 24:
                return None
            magic = head[:4]
            order: Literal["little", "big"]
            if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
                order = "little"
            elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
                order = "big"
            else:
                return None
            frames = 0
            while True:
                rec = f.read(16)
                if len(rec) < 16:
                    return frames
                incl = int.from_bytes(rec[8:12], order)
                data = f.read(incl)
                if len(data) < incl:
                    return frames          # a record still being written
                frames += 1
    except OSError:
        return None


def symbols_summary(path: str) -> str:
    """What a symbol capture's file says of itself: its lines, and what
    its limit kept out ("# end: ..." is its last line)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "not written"
    lines = sum(1 for line in data.split(b"\n")
                if line and not line.startswith(b"#"))
    end = re.search(rb"# end: .*?; (\d+) bursts, gaps and events not "
                    rb"written \(limit (\d+) octets\)", data)
    text = f"{lines} lines"
    if end and int(end.group(1)):
        text += (f"; its limit of {int(end.group(2))} octets kept out "
                 f"{int(end.group(1))} bursts, gaps and events")
    return text


def capture(run, port_text, pcap=None, duration=None, wait=None,
            symbols: bool = False, full: bool = False, bits: bool = False,
            symbols_limit: int | None = None):
    """Capture on a switch port until Ctrl-C or `duration` seconds; returns
    (pcap path, util log path or None).  With `symbols` the port's lane's
    code groups go to a text file beside the pcap file (.sym; `full`,
    `bits` and `symbols_limit`, in octets, as QMP blade-switch-capture
    takes them).  `wait` (for tests) replaces the wait."""
    spec = topology.from_dict(run.state["spec"])
    ch, port, slot = find_port(spec, port_text)
    if (full or bits or symbols_limit is not None) and not symbols:
        raise Failure("--full, --bits and --symbols-limit go with "
                      "--symbols")
    if symbols and port == "uplink":
        raise Failure("the uplink has no code groups: --symbols takes a "
                      "slot (or a chain lane)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if pcap is None:
        from .common import BUILD
        capdir = os.path.join(BUILD, "captures")
        os.makedirs(capdir, exist_ok=True)
        pcap = os.path.join(capdir, f"{run.name}-{ch.name}-{port}-{stamp}.pcap")
    pcap = os.path.abspath(pcap)
    directory = os.path.dirname(pcap)
    if not os.path.isdir(directory):
        raise Failure(f"cannot write {pcap}: no directory {directory}")
    if not os.access(directory, os.W_OK):
        raise Failure(f"cannot write {pcap}: {directory} is not writable")
    base = pcap[:-5] if pcap.endswith(".pcap") else pcap
    util_log = None
    if slot is not None:
        util_log = base + ".util.log"
    sym_path = base + ".sym" if symbols else None
    qmp_path = run.state["chassis"][ch.name]["qmp"]
    what = f"chassis {ch.name}"
    args: dict[str, object] = {"port": port, "pcap": pcap}
    if util_log:
        args["util-log"] = util_log
    if sym_path:
        args["symbols"] = sym_path
        if full:
            args["symbols-full"] = True
        if bits:
            args["symbols-bits"] = True
        if symbols_limit is not None:
            args["symbols-limit"] = symbols_limit
    with QMP.connect(qmp_path, what) as q:
        q.execute("blade-switch-capture", args)
    extra = f" and its utilization sets to {util_log}" if util_log else ""
    if sym_path:
        extra += f", its code groups to {sym_path}"
    until = (f"for {duration:g} s" if duration else
             "until Ctrl-C" if wait is None else "while the caller works")
    print(f"capturing {ch.name}.{port} to {pcap}{extra}, {until}", flush=True)
    interrupted = False
    try:
        if wait:
            wait()
        elif duration:
            time.sleep(duration)
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with QMP.connect(qmp_path, what) as q:
            q.execute("blade-switch-capture", {"port": port})
    frames = pcap_frames(pcap)
    count = f"{frames} frames" if frames is not None else "not a pcap file?"
    print(f"{'stopped: ' if interrupted else ''}{pcap} ({count}; tcpdump -r "
          f"or tshark -r reads it)")
    if util_log:
        try:
            with open(util_log, "rb") as f:
                lines = f.read().count(b"\n")
            print(f"utilization log: {util_log} ({lines} lines)")
        except OSError:
            print(f"utilization log: {util_log} (not written)")
    if sym_path:
        print(f"symbols: {sym_path} ({symbols_summary(sym_path)}; "
              f"docs/link-layer.md, \"Symbol capture\", reads them)")
    return pcap, util_log
