"""The BER injector: a small background process `up` starts when a
topology has `ber` impairments; `down` stops it.

blade-nic corrupts code groups on request (`inject-code-errors`: the next N
code groups it transmits), it has no bit error rate of its own.  So once a
second this process reads how much the blade sent on its lane (the switch's
`rx_bytes`/`rx_frames` of the slot) and asks the NIC to corrupt as many
code groups as that many bits would have had errors at the rate:

    errors = BER x 10 bits x code groups sent (octets + 12 per frame for
             preamble, SFD and the /S/ /T/ /R/ delimiters)

carrying the fraction over to the next second.  The errors land on the
next second's code groups, and only on code groups that carry frames or
ordered sets (idles are not transmitted one by one), so it is a rate over
traffic, one second late; see docs/topology.md.

    python3 -m bladeplane_cli.impair RUN_DIR
"""

import signal
import sys
import time

from . import rundir, topology
from .chassis import NIC_PATH, read_switch
from .common import Failure
from .qmp import QMP, QMPError

CODE_GROUP_BITS = 10
FRAME_OVERHEAD = 12          # code groups per frame besides its octets
MAX_PER_WRITE = 1000000      # blade-nic's limit for inject-code-errors


def code_group_errors(ber, d_bytes, d_frames, carry=0.0):
    """(errors to inject now, fraction carried) for a lane that sent
    d_bytes octets in d_frames frames since the last time."""
    if d_bytes < 0 or d_frames < 0:       # counters restarted
        return 0, 0.0
    groups = d_bytes + FRAME_OVERHEAD * d_frames
    exact = ber * CODE_GROUP_BITS * groups + carry
    n = int(exact)
    return min(n, MAX_PER_WRITE), exact - n


def port_counters(state, slot):
    for p in state.get("ports", []):
        if p.get("kind") == "slot" and p.get("slot") == slot:
            return p.get("rx_bytes", 0), p.get("rx_frames", 0)
    return None


def main(run_path, interval=1.0, log=print):
    run = rundir.Run(run_path)
    spec = topology.from_dict(run.state["spec"])
    lanes = []
    for ch in spec.chassis:
        qmp = run.state["chassis"][ch.name]["qmp"]
        for imp in ch.impairments:
            if imp.ber:
                proc = next(p for p in run.processes() if p["name"] == imp.blade)
                lanes.append({"chassis": ch.name, "switch_qmp": qmp,
                              "blade": imp.blade, "slot": imp.slot,
                              "ber": imp.ber, "blade_qmp": proc["qmp"],
                              "last": None, "carry": 0.0, "total": 0})
    log(f"impair: {len(lanes)} lane(s): " + ", ".join(
        f"{lane['blade']} BER {lane['ber']:g}" for lane in lanes), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        states = {}
        for lane in lanes:
            try:
                if lane["chassis"] not in states:
                    states[lane["chassis"]] = read_switch(
                        lane["switch_qmp"], f"chassis {lane['chassis']}")
                counters = port_counters(states[lane["chassis"]], lane["slot"])
                if counters is None:
                    continue
                if lane["last"] is not None:
                    d_bytes = counters[0] - lane["last"][0]
                    d_frames = counters[1] - lane["last"][1]
                    n, lane["carry"] = code_group_errors(
                        lane["ber"], d_bytes, d_frames, lane["carry"])
                    if n:
                        with QMP.connect(lane["blade_qmp"],
                                         f"blade {lane['blade']}") as q:
                            q.execute("qom-set", {"path": NIC_PATH,
                                                  "property": "inject-code-errors",
                                                  "value": n})
                        lane["total"] += n
                        log(f"impair: {lane['blade']}: {n} code-group errors "
                            f"({lane['total']} so far)", flush=True)
                lane["last"] = counters
            except (QMPError, Failure) as e:
                log(f"impair: {lane['blade']}: {e}", flush=True)
                lane["last"] = None
        time.sleep(interval)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python3 -m bladeplane_cli.impair RUN_DIR", file=sys.stderr)
        sys.exit(2)
    try:
        main(sys.argv[1])
    except KeyboardInterrupt:
        pass
