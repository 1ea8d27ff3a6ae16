-- bladeplane-fabric.lua: a Wireshark dissector for bladeplane's
-- inter-chassis control protocol (EtherType 0x88B5), the advertisements
-- switch blades exchange over chain and fabric links.  The wire format is
-- docs/fabric-protocol.md; net/fabric.c is the speaker.
--
--   tshark -X lua_script:scripts/wireshark/bladeplane-fabric.lua -r FILE
--
-- or copy it into Wireshark's personal Lua plugins folder
-- (~/.local/lib/wireshark/plugins/; Help > About > Folders shows it).
-- Display filter prefix: bpfabric (bpfabric.chassis_id == 3,
-- bpfabric.blade.cpu > 80, _ws.expert.group == 0x07000000).
--
-- Every octet is untrusted: each length is checked before it is read, and
-- what net/fabric.c would drop (rx_malformed, rx_bad_version) is flagged
-- with expert info in the Malformed group.  The HMAC trailer is shown,
-- not verified: that needs the shared key, which a capture does not hold.
--
-- SPDX-License-Identifier: GPL-2.0-or-later

-- Loaded twice (the plugins folder and -X lua_script): the second
-- registration would fail, so it is skipped.
local ok, known = pcall(Dissector.get, "bpfabric")
if ok and known then
    return
end

local ETHERTYPE = 0x88B5
local MAGIC = 0x42504643            -- "BPFC"
local VERSION = 2
local TYPE_ADVERT = 1
local HDR_LEN = 77
local ECHO_LEN = 16
local CHASSIS_HDR = 9
local ENTRY_LEN = 16
local HMAC_LEN = 32
local MAX_PAYLOAD = 1500
local MAX_PARTS = 16
local MAX_ECHO = 8
local NAME_MAX = 31
local MAX_COST = 255
local MAX_INTERVAL = 10000
local GROUP_MAC = "034250464142"

local proto = Proto("bpfabric", "bladeplane Fabric Control Protocol")

local vs_type = { [TYPE_ADVERT] = "Advertisement" }
local vs_magic = { [MAGIC] = "BPFC" }

local F = {
    -- subtrees
    header = ProtoField.none("bpfabric.header", "Header"),
    echoes = ProtoField.none("bpfabric.echoes", "Echo table"),
    echo = ProtoField.none("bpfabric.echo", "Echo"),
    chassis_table = ProtoField.none("bpfabric.chassis_table",
                                    "Chassis table"),
    chassis = ProtoField.none("bpfabric.chassis", "Chassis"),
    blades = ProtoField.none("bpfabric.blades", "Blades"),
    blade = ProtoField.none("bpfabric.blade", "Blade"),

    magic = ProtoField.uint32("bpfabric.magic", "Magic", base.HEX, vs_magic),
    version = ProtoField.uint8("bpfabric.version", "Version", base.DEC),
    type = ProtoField.uint8("bpfabric.type", "Type", base.DEC, vs_type),
    flags = ProtoField.uint8("bpfabric.flags", "Flags", base.HEX),
    flag_auth = ProtoField.bool("bpfabric.flags.auth", "AUTH", 8,
                                { "an HMAC-SHA256 trailer follows",
                                  "no HMAC trailer" }, 0x01),
    flag_designated = ProtoField.bool("bpfabric.flags.designated",
                                      "DESIGNATED", 8,
                                      { "sent from a designated port: the "
                                        .. "tree fields are an offer",
                                        "not designated" }, 0x02),
    flag_reserved = ProtoField.uint8("bpfabric.flags.reserved",
                                     "Reserved (must be 0)", base.HEX, nil,
                                     0xfc),
    ttl = ProtoField.uint8("bpfabric.ttl", "TTL", base.DEC),
    length = ProtoField.uint16("bpfabric.length", "Length", base.DEC, nil,
                               nil, "Payload octets before the trailer"),
    part = ProtoField.uint8("bpfabric.part", "Part", base.DEC),
    parts = ProtoField.uint8("bpfabric.parts", "Parts", base.DEC),
    chassis_id = ProtoField.uint64("bpfabric.chassis_id", "Chassis ID",
                                   base.DEC),
    nonce = ProtoField.uint64("bpfabric.nonce", "Boot nonce", base.HEX),
    seq = ProtoField.uint64("bpfabric.seq", "Sequence", base.DEC),
    priority = ProtoField.uint16("bpfabric.priority", "Priority", base.DEC),
    port = ProtoField.uint8("bpfabric.port", "Port", base.DEC, nil, nil,
                            "The sender's port number for this link"),
    name_len = ProtoField.uint8("bpfabric.name_len", "Name length",
                                base.DEC),
    root_priority = ProtoField.uint16("bpfabric.root_priority",
                                      "Root priority", base.DEC),
    root_id = ProtoField.uint64("bpfabric.root_id", "Root ID", base.DEC),
    root_cost = ProtoField.uint16("bpfabric.root_cost", "Root path cost",
                                  base.DEC),
    root_seq = ProtoField.uint32("bpfabric.root_seq", "Root sequence",
                                 base.DEC),
    interval = ProtoField.uint16("bpfabric.interval", "Interval (ms)",
                                 base.DEC),
    chassis_count = ProtoField.uint8("bpfabric.chassis_count",
                                     "Chassis count", base.DEC),
    blade_count = ProtoField.uint8("bpfabric.blade_count", "Blade count",
                                   base.DEC),
    root_nonce = ProtoField.uint64("bpfabric.root_nonce", "Root nonce",
                                   base.HEX),
    challenge = ProtoField.uint64("bpfabric.challenge", "Challenge",
                                  base.HEX),
    echo_count = ProtoField.uint8("bpfabric.echo_count", "Echo count",
                                  base.DEC),
    name = ProtoField.string("bpfabric.name", "Name"),

    echo_id = ProtoField.uint64("bpfabric.echo.chassis_id", "Chassis ID",
                                base.DEC),
    echo_challenge = ProtoField.uint64("bpfabric.echo.challenge",
                                       "Its challenge", base.HEX),

    ch_id = ProtoField.uint64("bpfabric.chassis.id", "Chassis ID", base.DEC),
    ch_name_len = ProtoField.uint8("bpfabric.chassis.name_len",
                                   "Name length", base.DEC),
    ch_name = ProtoField.string("bpfabric.chassis.name", "Name"),

    blade_mac = ProtoField.ether("bpfabric.blade.mac", "MAC"),
    blade_slot = ProtoField.uint8("bpfabric.blade.slot", "Slot", base.DEC),
    blade_flags = ProtoField.uint8("bpfabric.blade.flags", "Flags", base.HEX),
    blade_in_rotation = ProtoField.bool("bpfabric.blade.in_rotation",
                                        "In rotation", 8,
                                        { "in rotation", "out of rotation" },
                                        0x01),
    blade_reserved = ProtoField.uint8("bpfabric.blade.flags.reserved",
                                      "Reserved (must be 0)", base.HEX, nil,
                                      0xfe),
    blade_cpu = ProtoField.uint8("bpfabric.blade.cpu", "CPU (%)", base.DEC),
    blade_irq = ProtoField.uint8("bpfabric.blade.irq", "IRQ (%)", base.DEC),
    blade_hops = ProtoField.uint8("bpfabric.blade.hops", "Hops", base.DEC),
    blade_chassis = ProtoField.uint8("bpfabric.blade.chassis",
                                     "Chassis (table entry)", base.DEC),
    blade_chassis_id = ProtoField.uint64("bpfabric.blade.chassis_id",
                                         "Holding chassis ID", base.DEC),
    blade_chassis_name = ProtoField.string("bpfabric.blade.chassis_name",
                                           "Holding chassis name"),
    blade_age = ProtoField.uint32("bpfabric.blade.age", "Age (ms)",
                                  base.DEC),

    hmac = ProtoField.bytes("bpfabric.hmac", "HMAC-SHA256"),
    trailing = ProtoField.bytes("bpfabric.trailing",
                                "Octets after the payload"),
    data = ProtoField.bytes("bpfabric.data", "Not decoded"),
}
proto.fields = {
    F.header, F.echoes, F.echo, F.chassis_table, F.chassis, F.blades,
    F.blade,
    F.magic, F.version, F.type, F.flags, F.flag_auth, F.flag_designated,
    F.flag_reserved, F.ttl, F.length, F.part, F.parts, F.chassis_id,
    F.nonce, F.seq, F.priority, F.port, F.name_len, F.root_priority,
    F.root_id, F.root_cost, F.root_seq, F.interval, F.chassis_count,
    F.blade_count, F.root_nonce, F.challenge, F.echo_count, F.name,
    F.echo_id, F.echo_challenge, F.ch_id, F.ch_name_len, F.ch_name,
    F.blade_mac, F.blade_slot, F.blade_flags, F.blade_in_rotation,
    F.blade_reserved, F.blade_cpu, F.blade_irq, F.blade_hops,
    F.blade_chassis, F.blade_chassis_id, F.blade_chassis_name, F.blade_age,
    F.hmac, F.trailing, F.data,
}

local MALFORMED, ERROR, WARN =
    expert.group.MALFORMED, expert.severity.ERROR, expert.severity.WARN
local E = {
    short = ProtoExpert.new("bpfabric.expert.short",
                            "Frame ends inside the header", MALFORMED,
                            ERROR),
    truncated = ProtoExpert.new("bpfabric.expert.truncated",
                                "Frame ends inside a table or the HMAC",
                                MALFORMED, ERROR),
    bad_length = ProtoExpert.new("bpfabric.expert.bad_length",
                                 "Length field disagrees with the frame",
                                 MALFORMED, ERROR),
    counts = ProtoExpert.new("bpfabric.expert.counts",
                             "Counts disagree with the length field",
                             MALFORMED, ERROR),
    oversize = ProtoExpert.new("bpfabric.expert.oversize",
                               "Frame longer than 1514 octets", MALFORMED,
                               ERROR),
    magic = ProtoExpert.new("bpfabric.expert.magic",
                            "Bad magic: not a bladeplane control frame",
                            MALFORMED, ERROR),
    version = ProtoExpert.new("bpfabric.expert.version", "Unknown version",
                              MALFORMED, WARN),
    type = ProtoExpert.new("bpfabric.expert.type", "Unknown message type",
                           MALFORMED, ERROR),
    flags = ProtoExpert.new("bpfabric.expert.flags", "Unknown flag bits",
                            MALFORMED, ERROR),
    range = ProtoExpert.new("bpfabric.expert.range", "Field out of range",
                            MALFORMED, ERROR),
    destination = ProtoExpert.new("bpfabric.expert.destination",
                                  "Not sent to the group address "
                                  .. "03:42:50:46:41:42", MALFORMED, ERROR),
}
proto.experts = {
    E.short, E.truncated, E.bad_length, E.counts, E.oversize, E.magic,
    E.version, E.type, E.flags, E.range, E.destination,
}

local eth_dst = Field.new("eth.dst")

-- The header, in order: offset, size, field, name for people.
local HEADER = {
    { 0, 4, "magic", "the magic" },
    { 4, 1, "version", "the version" },
    { 5, 1, "type", "the type" },
    { 6, 1, "flags", "the flags" },
    { 7, 1, "ttl", "the TTL" },
    { 8, 2, "length", "the length field" },
    { 10, 1, "part", "the part" },
    { 11, 1, "parts", "the parts" },
    { 12, 8, "chassis_id", "the chassis ID" },
    { 20, 8, "nonce", "the nonce" },
    { 28, 8, "seq", "the sequence" },
    { 36, 2, "priority", "the priority" },
    { 38, 1, "port", "the port" },
    { 39, 1, "name_len", "the name length" },
    { 40, 2, "root_priority", "the root priority" },
    { 42, 8, "root_id", "the root ID" },
    { 50, 2, "root_cost", "the root path cost" },
    { 52, 4, "root_seq", "the root sequence" },
    { 56, 2, "interval", "the interval" },
    { 58, 1, "chassis_count", "the chassis count" },
    { 59, 1, "blade_count", "the blade count" },
    { 60, 8, "root_nonce", "the root nonce" },
    { 68, 8, "challenge", "the challenge" },
    { 76, 1, "echo_count", "the echo count" },
}

local function bit_set(v, b)
    return math.floor(v / 2 ^ b) % 2 == 1
end

local function is_zero(v)
    return v:higher() == 0 and v:lower() == 0
end

local function hex64(v)
    local h = v:tohex():gsub("^0+", "")
    return "0x" .. (h == "" and "0" or h)
end

-- Printable ASCII, as net/fabric.c wants names.
local function printable(s)
    return not s:find("[^\32-\126]")
end

local function plural(n, one, many)
    return tostring(n) .. " " .. (n == 1 and one or many)
end

local function dissect(tvb, pinfo, tree)
    local cap = tvb:len()                   -- octets captured
    local wire = tvb:reported_len()         -- octets on the wire
    local h = {}                            -- header values
    local items = {}                        -- and their tree items
    local ends = cap < wire and "Capture" or "Frame"
    local bad = {}                          -- faults, for the Info column

    pinfo.cols.protocol:set("BPFABRIC")
    local root = tree:add(proto, tvb:range(0, cap))

    local function fault(item, ef, text)
        item:add_proto_expert_info(ef, text)
        if #bad == 0 then
            bad[1] = text:gsub(" %(net/fabric%.c[^)]*%)", "")
        end
    end

    -- Octets from @o to the end of what was captured, shown undecoded.
    local function rest(o, why)
        if o < cap then
            root:add(F.data, tvb:range(o, cap - o)):append_text(" (" .. why
                                                                .. ")")
        end
    end

    local function info(text)
        if #bad > 0 then
            text = text .. " [Malformed: " .. bad[1] .. "]"
        end
        pinfo.cols.info:set(text)
    end

    -- The destination: net/fabric.c takes only the group address.
    local dsts = { eth_dst() }
    local dst = dsts[#dsts]
    if dst and dst.range and dst.range:len() == 6 and
       dst.range:bytes():tohex():lower() ~= GROUP_MAC then
        fault(root, E.destination, "Sent to " .. tostring(dst.value)
              .. ", not the group address 03:42:50:46:41:42: "
              .. "net/fabric.c drops it (rx_malformed)")
    end

    -- The header, field by field, as far as it was captured.
    local ht = root:add(F.header, tvb:range(0, math.min(cap, HDR_LEN)))
    local unknown_type = false
    for _, d in ipairs(HEADER) do
        local o, n, name, what = d[1], d[2], d[3], d[4]
        if o + n > cap then
            local item = o < cap and
                ht:add(F.data, tvb:range(o, cap - o)) or ht
            fault(item, E.short, string.format(
                "%s ends inside the header, in %s: %d of %d octets%s", ends,
                what, cap, HDR_LEN, cap < wire and ""
                or " (net/fabric.c: rx_malformed)"))
            local text = h.magic and "Advertisement" or "Frame"
            if h.chassis_id then
                text = text .. " (id " .. tostring(h.chassis_id) .. ")"
            end
            if h.seq then
                text = text .. " seq=" .. tostring(h.seq)
            end
            info(string.format("%s, %d octets", text, cap))
            return
        end
        local r = tvb:range(o, n)
        local v = n == 8 and r:uint64() or r:uint()
        local item = ht:add(F[name], r)
        h[name] = v
        items[name] = item
        if name == "magic" and v ~= MAGIC then
            fault(item, E.magic, string.format(
                "Bad magic 0x%08x, not \"BPFC\": not a bladeplane "
                .. "control frame (net/fabric.c: rx_malformed)", v))
            rest(4, "unknown layout")
            info("Not a bladeplane control frame")
            return
        elseif name == "version" and v ~= VERSION then
            if v == 1 then
                item:append_text(" (68-octet header, before challenges)")
            end
            fault(item, E.version, string.format(
                "Version %d: only version %d is known; net/fabric.c "
                .. "ignores it (rx_bad_version)", v, VERSION))
            rest(5, "layout of version " .. v .. " unknown")
            info(string.format("Version %d frame", v))
            return
        elseif name == "type" and v ~= TYPE_ADVERT then
            fault(item, E.type, string.format(
                "Message type %d unknown: 1 (advertisement) is the only "
                .. "one (net/fabric.c: rx_malformed)", v))
            unknown_type = true
        elseif name == "flags" then
            item:add(F.flag_auth, r)
            item:add(F.flag_designated, r)
            item:add(F.flag_reserved, r)
            local names = {}
            if bit_set(v, 0) then
                names[#names + 1] = "AUTH"
            end
            if bit_set(v, 1) then
                names[#names + 1] = "DESIGNATED"
            end
            if v >= 4 then
                names[#names + 1] = "unknown bits"
                fault(item, E.flags, string.format(
                    "Unknown flag bits 0x%02x (net/fabric.c: rx_malformed)",
                    v - v % 4))
            end
            if #names > 0 then
                item:append_text(" (" .. table.concat(names, ", ") .. ")")
            end
        elseif name == "ttl" and v ~= 1 then
            fault(item, E.range, "TTL must be 1: for this link only "
                  .. "(net/fabric.c: rx_malformed)")
        end
        if name == "length" and unknown_type then
            rest(10, "layout of message type " .. h.type .. " unknown")
            info(string.format("Unknown message type %d", h.type))
            return
        end
    end

    local auth = bit_set(h.flags, 0)
    local trailer = auth and HMAC_LEN or 0
    local length = h.length

    -- The length field against the frame.
    if length < HDR_LEN then
        fault(root, E.bad_length, string.format(
            "Length field %d is under the %d-octet header "
            .. "(net/fabric.c: rx_malformed)", length, HDR_LEN))
    elseif length + trailer ~= wire then
        fault(root, E.bad_length, string.format(
            "Length field %d%s, but the frame has %d payload octets "
            .. "(net/fabric.c: rx_malformed)", length, auth and string.format(
                " + 32 (HMAC trailer) = %d", length + trailer) or "", wire))
    end
    if wire > MAX_PAYLOAD then
        fault(root, E.oversize, string.format(
            "%d octets: longer than 1514 (net/fabric.c: rx_malformed)",
            wire + 14))
    end

    -- Header fields net/fabric.c checks (docs/fabric-protocol.md, "Header").
    local function check(name, ok, text)
        if not ok then
            fault(items[name], E.range,
                  text .. " (net/fabric.c: rx_malformed)")
        end
    end
    check("parts", h.parts >= 1 and h.parts <= MAX_PARTS,
          "Parts must be 1 .. 16")
    check("part", h.part < h.parts, "Part must be below parts")
    check("chassis_id", not is_zero(h.chassis_id),
          "Chassis ID must not be 0")
    check("nonce", not is_zero(h.nonce), "Nonce must not be 0")
    check("seq", not is_zero(h.seq), "Sequence must not be 0")
    check("name_len", h.name_len <= NAME_MAX, "Name length must be 0 .. 31")
    check("root_id", not is_zero(h.root_id), "Root ID must not be 0")
    check("root_nonce", not is_zero(h.root_nonce),
          "Root nonce must not be 0")
    check("root_seq", h.root_seq ~= 0, "Root sequence must not be 0")
    check("interval", h.interval >= 1 and h.interval <= MAX_INTERVAL,
          "Interval must be 1 .. 10000 ms")
    check("challenge", not is_zero(h.challenge), "Challenge must not be 0")
    check("echo_count", h.echo_count <= MAX_ECHO,
          "Echo count must be 0 .. 8")
    -- the root is never worse than the sender (net/fabric.c's decode())
    check("root_id", h.root_priority < h.priority or
          (h.root_priority == h.priority and h.root_id <= h.chassis_id),
          "Root (priority, ID) is worse than the sender's own")
    local root_is_sender = h.root_id == h.chassis_id and
                           h.root_priority == h.priority
    if root_is_sender then
        check("root_cost", h.root_cost == 0,
              "Root path cost must be 0: the sender is the root")
        check("root_nonce", h.root_nonce == h.nonce,
              "Root nonce must be the sender's nonce: the sender is the "
              .. "root")
    else
        check("root_cost", h.root_cost >= 1 and h.root_cost <= MAX_COST,
              "Root path cost must be 1 .. 255: the sender is not the root")
        check("root_id", h.root_id ~= h.chassis_id,
              "Root ID is the sender's with another priority")
    end

    -- The tables end at the length field (the frame's end if it is short).
    local limit = length >= HDR_LEN and length or wire - trailer
    local stop = math.min(limit, cap)
    local o = HDR_LEN
    local cut = false                       -- a table did not fit

    -- Can @n octets at @o be read?  Else flag why not, once.
    local function fits(n, tree_, what)
        if o + n <= stop then
            return true
        end
        if not cut then
            cut = true
            local item = tree_
            if o < stop then
                item = tree_:add(F.data, tvb:range(o, stop - o))
            end
            if stop < limit then
                fault(item, E.truncated, string.format(
                    "%s ends inside %s (octet %d of %d)", ends, what, cap,
                    limit))
            else
                fault(item, E.counts, string.format(
                    "Counts run past the length field (%d octets), in %s "
                    .. "(net/fabric.c: rx_malformed)", limit, what))
            end
        end
        return false
    end

    -- The name.
    local name = ""
    local nlen = h.name_len
    if fits(nlen, root, "the name") then
        local r = tvb:range(o, nlen)
        local item = root:add(F.name, r)
        name = r:raw()
        if not printable(name) then
            fault(item, E.range, "Name is not printable ASCII "
                  .. "(net/fabric.c: rx_malformed)")
        end
        o = o + nlen
    end

    -- The echo table.
    local et = root:add(F.echoes, tvb:range(math.min(o, cap), 0))
    et:set_text("Echo table: " .. plural(h.echo_count, "entry", "entries"))
    local seen = {}
    for i = 1, h.echo_count do
        if cut or not fits(ECHO_LEN, et, "the echo table") then
            break
        end
        local id, ch = tvb:range(o, 8):uint64(), tvb:range(o + 8, 8):uint64()
        local e = et:add(F.echo, tvb:range(o, ECHO_LEN))
        e:set_text(string.format("Echo %d: chassis %s, challenge %s", i,
                                 tostring(id), hex64(ch)))
        local ii = e:add(F.echo_id, tvb:range(o, 8))
        local ci = e:add(F.echo_challenge, tvb:range(o + 8, 8))
        if is_zero(id) or id == h.chassis_id or seen[tostring(id)] then
            fault(ii, E.range, "Echoed chassis ID must not be 0, the "
                  .. "sender or repeated (net/fabric.c: rx_malformed)")
        end
        if is_zero(ch) then
            fault(ci, E.range, "Echoed challenge must not be 0 "
                  .. "(net/fabric.c: rx_malformed)")
        end
        seen[tostring(id)] = true
        o = o + ECHO_LEN
    end
    et:set_len(math.max(0, math.min(o, cap) - HDR_LEN - nlen))

    -- The chassis table.
    local table_at = o
    local ct = root:add(F.chassis_table, tvb:range(math.min(o, cap), 0))
    ct:set_text("Chassis table: " .. plural(h.chassis_count, "entry",
                                            "entries"))
    local chassis = {}
    seen = {}
    for i = 1, h.chassis_count do
        if cut or not fits(CHASSIS_HDR, ct, "the chassis table") then
            break
        end
        local id = tvb:range(o, 8):uint64()
        local cl = tvb:range(o + 8, 1):uint()
        local cname = "?"
        local c = ct:add(F.chassis, tvb:range(o, CHASSIS_HDR))
        local ii = c:add(F.ch_id, tvb:range(o, 8))
        local li = c:add(F.ch_name_len, tvb:range(o + 8, 1))
        if is_zero(id) or id == h.chassis_id or seen[tostring(id)] then
            fault(ii, E.range, "Chassis ID must not be 0, the sender or "
                  .. "repeated (net/fabric.c: rx_malformed)")
        end
        if cl > NAME_MAX then
            fault(li, E.range, "Name length must be 0 .. 31 "
                  .. "(net/fabric.c: rx_malformed)")
        end
        seen[tostring(id)] = true
        o = o + CHASSIS_HDR
        if fits(cl, c, "the chassis table") then
            local r = tvb:range(o, cl)
            local ni = c:add(F.ch_name, r)
            cname = r:raw()
            if not printable(cname) then
                fault(ni, E.range, "Name is not printable ASCII "
                      .. "(net/fabric.c: rx_malformed)")
            end
            o = o + cl
            c:set_len(CHASSIS_HDR + cl)
        end
        chassis[i] = { id = id, name = cname }
        c:set_text(string.format("Chassis %d: %s (ID %s)", i, cname,
                                 tostring(id)))
    end
    ct:set_len(math.max(0, math.min(o, cap) - math.min(table_at, cap)))

    -- The blades.
    local blades_at = o
    local bt = root:add(F.blades, tvb:range(math.min(o, cap), 0))
    bt:set_text("Blades: " .. plural(h.blade_count, "entry", "entries"))
    for i = 1, h.blade_count do
        if cut or not fits(ENTRY_LEN, bt, "the blade entries") then
            break
        end
        local r = function(off, n) return tvb:range(o + off, n) end
        local b = bt:add(F.blade, r(0, ENTRY_LEN))
        local mi = b:add(F.blade_mac, r(0, 6))
        b:add(F.blade_slot, r(6, 1))
        local fl = r(7, 1):uint()
        local fi = b:add(F.blade_flags, r(7, 1))
        fi:add(F.blade_in_rotation, r(7, 1))
        fi:add(F.blade_reserved, r(7, 1))
        local cpu, irq = r(8, 1):uint(), r(9, 1):uint()
        local cpui = b:add(F.blade_cpu, r(8, 1))
        local irqi = b:add(F.blade_irq, r(9, 1))
        local hops = r(10, 1):uint()
        local hi = b:add(F.blade_hops, r(10, 1))
        local cidx = r(11, 1):uint()
        local chi = b:add(F.blade_chassis, r(11, 1))
        b:add(F.blade_age, r(12, 4))

        local m0 = r(0, 1):uint()
        if bit_set(m0, 0) or r(0, 6):bytes():tohex() == "000000000000" then
            fault(mi, E.range, "Blade MAC must be unicast, not zero "
                  .. "(net/fabric.c: rx_malformed)")
        end
        if fl >= 2 then
            fault(fi, E.range, "Unknown blade flag bits "
                  .. "(net/fabric.c: rx_malformed)")
        end
        if cpu > 100 then
            fault(cpui, E.range, "CPU must be 0 .. 100 % "
                  .. "(net/fabric.c: rx_malformed)")
        end
        if irq > 100 then
            fault(irqi, E.range, "IRQ must be 0 .. 100 % "
                  .. "(net/fabric.c: rx_malformed)")
        end
        if hops == 255 or (cidx == 0) ~= (hops == 0) then
            fault(hi, E.range, "Hops must be 0 for the sender's own "
                  .. "blades, else 1 .. 254 (net/fabric.c: rx_malformed)")
        end
        local holder
        if cidx == 0 then
            holder = { id = h.chassis_id, name = name }
            chi:append_text(" (the sender)")
        elseif chassis[cidx] then
            holder = chassis[cidx]
            chi:append_text(" (" .. holder.name .. ")")
        else
            fault(chi, E.range, string.format(
                "Chassis entry %d is not in the table of %d "
                .. "(net/fabric.c: rx_malformed)", cidx, h.chassis_count))
        end
        if holder then
            b:add(F.blade_chassis_id, r(11, 1), holder.id):set_generated()
            b:add(F.blade_chassis_name, r(11, 1), holder.name)
                :set_generated()
        end
        b:set_text(string.format(
            "Blade %d: %s, slot %d, %s, cpu %d %%, irq %d %%, hops %d "
            .. "(%s), age %d ms", i, tostring(r(0, 6):ether()),
            r(6, 1):uint(), bit_set(fl, 0) and "in rotation"
            or "out of rotation", cpu, irq, hops,
            holder and holder.name or "?", r(12, 4):uint()))
        o = o + ENTRY_LEN
    end
    bt:set_len(math.max(0, math.min(o, cap) - math.min(blades_at, cap)))
    -- Octets between the last table and the length field.
    if not cut and o < limit and o >= cap then
        fault(root, E.truncated, string.format(
            "%s ends %d octets before the end the length field gives", ends,
            limit - o))
    elseif not cut and o < limit then
        local item = root:add(F.data, tvb:range(o, math.min(limit, cap) - o))
        fault(item, E.counts, string.format(
            "%d octets between the last blade entry and the length field "
            .. "(net/fabric.c: rx_malformed)", limit - o))
    end

    -- The trailer.
    local after = limit
    if auth then
        local n = math.max(0, math.min(HMAC_LEN, cap - limit))
        if n > 0 then
            local item = root:add(F.hmac, tvb:range(limit, n))
            item:append_text(" (not verified: that needs the shared key)")
            if n < HMAC_LEN then
                fault(item, E.truncated, string.format(
                    "%s ends inside the HMAC: %d of 32 octets", ends, n))
            end
        else
            fault(root, E.truncated, ends .. " ends before the HMAC")
        end
        after = limit + HMAC_LEN
    end
    if after < cap then
        root:add(F.trailing, tvb:range(after, cap - after))
    end

    -- The summary.
    local shown = name:gsub("[^\32-\126]", ".")
    local summary = string.format(
        "Advertisement %s (id %s) seq=%s part=%d/%d blades=%d echoes=%d "
        .. "chassis=%d root=%s cost=%d", shown, tostring(h.chassis_id),
        tostring(h.seq), h.part, h.parts, h.blade_count, h.echo_count,
        h.chassis_count, tostring(h.root_id), h.root_cost)
    if bit_set(h.flags, 1) then
        summary = summary .. " DESIGNATED"
    end
    if auth then
        summary = summary .. " AUTH"
    end
    root:append_text(string.format(", Advertisement from %s (id %s), "
                                   .. "seq %s", shown,
                                   tostring(h.chassis_id), tostring(h.seq)))
    info(summary)
end

function proto.dissector(tvb, pinfo, tree)
    dissect(tvb, pinfo, tree)
    -- Taken whole, even empty (0 would hand it to the data dissector).
    return math.max(tvb:len(), 1)
end

DissectorTable.get("ethertype"):add(ETHERTYPE, proto)
