#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes the hand-made seeds of QEMU's generic-fuzz configurations
(tests/fuzz/corpus/generic-fuzz-*; rerun only when the register map or
generic-fuzz's input format changes):

    python3 tests/fuzz/make-generic-seeds.py tests/fuzz/corpus

An input is generic-fuzz's list of operations separated by "FUZZ"
(tests/qtest/fuzz/generic_fuzz.c).  MMIO operations name a region by its
index among the fuzzed regions in address order: each blade-nic has three
(BAR0, the MSI-X table, the MSI-X PBA), so NIC n's registers are region 3n.
The seeds bring every NIC up (rings, TX and RX enabled), step the virtual
clock until the lanes have negotiated, and have NIC 0 send frames: from
there the fuzzer mutates a working data path, both directions, instead of
having to find the whole sequence by itself.
"""

import os
import struct
import sys

OP_READ, OP_WRITE, OP_ADD_DMA_PATTERN, OP_CLOCK_STEP = 2, 3, 7, 9
LONG = 2

# Registers (docs/blade-nic.md, hw/blade/blade-nic.h).
CTRL, IER = 0x008, 0x024
TX_BASE_LO, TX_SIZE, TX_TAIL = 0x100, 0x108, 0x110
RX_BASE_LO, RX_SIZE, RX_TAIL = 0x120, 0x128, 0x130
STATUS, STAT_BASE = 0x010, 0x400
TXEN, RXEN, PROMISC = 1 << 1, 1 << 2, 1 << 3
RING = 8


def write(nic, reg, value):
    return bytes([OP_WRITE]) + struct.pack("<BBxxIQ", LONG, 3 * nic, reg,
                                           value)


def read(nic, reg):
    return bytes([OP_READ]) + struct.pack("<BBxxI", LONG, 3 * nic, reg)


def steps(n):
    return [bytes([OP_CLOCK_STEP])] * n


def dma_pattern(frame_addr, frame_len):
    """Every DMA read the device makes is filled with this 16-octet
    pattern: read as a descriptor, one buffer of frame_len octets at
    frame_addr, end of packet; read as a frame, the same octets repeated
    (a unicast destination no one has: the switch floods it)."""
    desc = struct.pack("<QHHHH", frame_addr, frame_len, 1, 0, 0)
    return bytes([OP_ADD_DMA_PATTERN, 0, 0]) + desc


def bring_up(nic, flags):
    base = 0x100000 * (nic + 1)
    return [write(nic, TX_BASE_LO, base), write(nic, TX_SIZE, RING),
            write(nic, RX_BASE_LO, base + 0x80000), write(nic, RX_SIZE, RING),
            write(nic, RX_TAIL, RING - 1), write(nic, IER, 0xffffffff),
            write(nic, CTRL, flags)]


def seed(nics, frames, frame_len, flags=TXEN | RXEN | PROMISC):
    ops = []
    for n in range(nics):
        ops += bring_up(n, flags)
    ops += steps(16)
    ops.append(dma_pattern(0x800000, frame_len))
    ops.append(write(0, TX_TAIL, frames % RING))
    ops += steps(8)
    for n in range(nics):
        ops += [read(n, STATUS), read(n, STAT_BASE)]
    return b"FUZZ".join(ops)


SEEDS = {
    "generic-fuzz-blade-nic": {
        "tx-rx-1": seed(2, 1, 64),
        "tx-rx-7-large": seed(2, 7, 1514),
        "tx-rx-filtered": seed(2, 3, 64, TXEN | RXEN),
    },
    "generic-fuzz-blade-switch": {
        "tx-flood-1": seed(3, 1, 64),
        "tx-flood-7": seed(3, 7, 600),
        "tx-flood-filtered": seed(3, 5, 64, TXEN | RXEN),
    },
}


def main(root):
    for config, seeds in SEEDS.items():
        d = os.path.join(root, config)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "corpus")
