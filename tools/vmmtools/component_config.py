"""The generated configuration (a C file) of each protection domain the build adds, from the plan
tools/vmm-system.py made. Each writer matches components/<kind>/config.h."""
from . import ToolError


def c_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def conn(c):
    return ("{.queue = 0x%xul, .capacity = %d, .tx_data = 0x%xul, .tx_size = 0x%x, "
            ".rx_data = 0x%xul, .rx_size = 0x%x, .channel = %d}" %
            (c["queue"], c["capacity"], c["tx_data"], c["tx_size"], c["rx_data"], c["rx_size"],
             c["channel"]))


def timer(comp):
    clients = ",\n".join("    {.name = %s, .slot = 0x%xul, .channel = %d}" %
                         (c_string(c["name"]), c["slot"], c["channel"]) for c in comp["clients"])
    return """#include <timer/config.h>

static const struct timer_client_config clients[] = {
%s
};

const struct timer_config timer_config = {
    .irq_channel = %d,
    .num_clients = %d,
    .clients = clients,
};
""" % (clients, comp["irq_channel"], len(comp["clients"]))


SERIAL_DRIVERS = {"pl011": "SERIAL_DRIVER_PL011"}


def serial_mux(comp):
    clients = ",\n".join("        {.name = %s, .conn = %s}" % (c_string(c["name"]), conn(c["conn"]))
                          for c in comp["clients"])
    return """#include <serial_mux/config.h>

const struct serial_mux_config serial_mux_config = {
    .uart_regs = 0x%xul,
    .uart_irq_channel = %d,
    .driver = %s,
    .num_clients = %d,
    .first_input = 0,
    .clients = {
%s
    },
};
""" % (comp["uart"], comp["irq_channel"], SERIAL_DRIVERS[comp["driver"]], len(comp["clients"]),
       clients)


def hello(comp):
    no_network(comp, "the example client (hello.elf)")
    if "serial" not in comp:
        raise ToolError("protection domain '%s' runs the example client (hello.elf), which needs "
                        "<serial_client/>" % comp["pd"])
    return """#include <hello/config.h>

const struct hello_config hello_config = {
    .serial = %s,
};
""" % conn(comp["serial"])


BLK_STORAGE = {"virtio": "BLK_STORAGE_VIRTIO", "ramdisk": "BLK_STORAGE_RAMDISK"}


def blk_server(comp):
    """The block server: its storage, and its clients. The Microkit tool writes physical
    addresses into the variables named in comp["setvars"] and each client's data_paddr and
    window_paddr (in .data, so the ELF has bytes for them); a RAM disk image is included whole,
    in writable memory."""
    out = ["#include <blk_server/config.h>", ""]
    for sym in comp["setvars"]:
        out.append("uint64_t %s __attribute__((section(\".data\")));" % sym)
    for c in comp["clients"]:
        for sym in c["data_paddr"] + ([c["window_paddr"]] if c.get("window_paddr") else []):
            out.append("uint64_t %s __attribute__((section(\".data\")));" % sym)
    if comp["storage"] == "ramdisk":
        # The image, page-aligned, in the ELF's writable data: the RAM disk the server serves.
        asm = ('.pushsection .data\n.balign 4096\n.global blk_ramdisk\n'
               'blk_ramdisk:\n.incbin %s\n.popsection\n' % c_string(comp["ramdisk"]))
        out += ["", "extern uint8_t blk_ramdisk[];",
                "__asm__(%s);" % c_string(asm).replace("\n", "\\n")]
    clients = []
    for c in comp["clients"]:
        paddr = ", ".join("&%s" % sym for sym in c["data_paddr"]) or "0"
        clients.append("""        {
            .name = %s,
            .conn = %s,
            .data_paddr = {%s},
            .partition = %d,
            .start = %dul,
            .sectors = %dul,
            .read_only = %d,
            .window_paddr = %s,
            .window_size = 0x%xul,
        }""" % (c_string(c["name"]), conn(c["conn"]), paddr, c["partition"], c["start"],
               c["sectors"], 1 if c["read_only"] else 0,
               "&%s" % c["window_paddr"] if c.get("window_paddr") else "0",
               c.get("window_size", 0)))
    if comp["storage"] == "virtio":
        storage = """    .regs = 0x%xul,
    .irq_channel = %d,
    .dma = 0x%xul,
    .dma_paddr = &%s,
    .dma_size = 0x%x,""" % (comp["regs"], comp["irq_channel"], comp["dma"], comp["dma_paddr"],
                            comp["dma_size"])
    else:
        storage = """    .ramdisk = blk_ramdisk,
    .ramdisk_size = 0x%xul,""" % comp["ramdisk_size"]
    out.append("""
const struct blk_server_config blk_server_config = {
    .storage = %s,
%s
    .num_clients = %d,
    .clients = {
%s
    },
};
""" % (BLK_STORAGE[comp["storage"]], storage, len(comp["clients"]), ",\n".join(clients)))
    return "\n".join(out)


# ---- networks (tools/vmmtools/network.py) -------------------------------------------------------

def c_bytes(values):
    return "{%s}" % ", ".join("0x%02x" % v for v in values)


def no_network(comp, what):
    if "net" in comp:
        raise ToolError("protection domain '%s' runs %s, which has no network port: remove its "
                        "<net_client/>" % (comp["pd"], what))


def vswitch(comp):
    if "ports" not in comp:
        raise ToolError("protection domain '%s' runs the virtual switch (vswitch.elf), which the "
                        "build adds itself: declare <virtual_switch name=\"...\"/> instead" %
                        comp["pd"])
    ports = ",\n".join(
        "        {.name = %s, .mac = %s, .uplink = %s,\n         .conn = %s}" %
        (c_string(p["name"]), c_bytes(p["mac"]), "true" if p["uplink"] else "false",
         conn(p["conn"])) for p in comp["ports"])
    return """#include <vswitch/config.h>

const struct vswitch_config vswitch_config = {
    .name = %s,
    .num_ports = %d,
    .ports = {
%s
    },
};
""" % (c_string(comp["switch"]), len(comp["ports"]), ports)


def echo(comp):
    if "net" not in comp:
        raise ToolError("protection domain '%s' runs the echo service (echo.elf), which needs "
                        "<net_client switch=\"...\"/>" % comp["pd"])
    if comp.get("serial_client"):
        raise ToolError("protection domain '%s' runs the echo service (echo.elf), which has no "
                        "console: remove its <serial_client/>" % comp["pd"])
    net = comp["net"]
    return """#include <echo/config.h>

const struct echo_config echo_config = {
    .net = %s,
    .mac = %s,
    .ip = %s,
    .udp_port = %d,
};
""" % (conn(net["conn"]), c_bytes(net["mac"]), c_bytes(int(b) for b in net["ip"].split(".")),
       net["udp_port"])


def uplink(comp):
    if "regs" not in comp:
        raise ToolError("protection domain '%s' runs the uplink (uplink.elf), which the build adds "
                        "itself: declare <uplink/> in a <virtual_switch> instead" % comp["pd"])
    return """#include <uplink/config.h>

const struct uplink_config uplink_config = {
    .switch_name = %s,
    .net = %s,
    .regs = 0x%xul,
    .regs_phys = 0x%xull,
    .irq_channel = %d,
    .dma = 0x%xul,
    .dma_size = 0x%x,
};
""" % (c_string(comp["switch"]), conn(comp["net"]), comp["regs"], comp["regs_phys"],
       comp["irq_channel"], comp["dma"], comp["dma_size"])


WRITERS = {"timer": timer, "serial_mux": serial_mux, "hello": hello, "blk_server": blk_server,
           "vswitch": vswitch, "echo": echo, "uplink": uplink}


def generate(comp, system_path):
    writer = WRITERS.get(comp["kind"])
    if writer is None:
        raise ToolError("%s: the build cannot configure a '%s' protection domain yet" %
                        (system_path, comp["kind"]))
    try:
        text = writer(comp)
    except ToolError as e:
        raise ToolError("%s: %s" % (system_path, e))
    return ("/* Generated by tools/vmm-system.py from %s for protection domain '%s'. Do not "
            "edit. */\n" % (system_path, comp["pd"])) + text
