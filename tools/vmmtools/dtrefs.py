"""References between device tree nodes: which properties hold phandles (by the Devicetree
Specification's and the common bindings' property names), and which of them point at nothing
once the guest's tree has lost nodes (a deleted device, a CPU the VM does not have)."""
import re

# Properties that are lists of (phandle, argument cells...): the provider's property that says
# how many argument cells follow its phandle, and what a provider without it means (None: the
# reference is broken).
PHANDLE_ARGS = {
    "clocks": ("#clock-cells", None),
    "assigned-clocks": ("#clock-cells", None),
    "assigned-clock-parents": ("#clock-cells", None),
    "resets": ("#reset-cells", None),
    "phys": ("#phy-cells", None),
    "dmas": ("#dma-cells", None),
    "power-domains": ("#power-domain-cells", None),
    "interrupts-extended": ("#interrupt-cells", None),
    "iommus": ("#iommu-cells", None),
    "mboxes": ("#mbox-cells", None),
    "thermal-sensors": ("#thermal-sensor-cells", None),
    "io-channels": ("#io-channel-cells", None),
    "pwms": ("#pwm-cells", None),
    "sound-dai": ("#sound-dai-cells", None),
    "hwlocks": ("#hwlock-cells", None),
    "interconnects": ("#interconnect-cells", None),
    "cooling-device": ("#cooling-cells", None),
    "mux-controls": ("#mux-control-cells", None),
    "msi-parent": ("#msi-cells", 0),
}
# Properties that are lists of phandles without arguments.
PHANDLE_LISTS = {
    "interrupt-parent", "memory-region", "nvmem-cells", "operating-points-v2", "cpu-idle-states",
    "next-level-cache", "phy-handle", "remote-endpoint", "interrupt-affinity", "sram",
}
# What goes with a property when it is dropped.
COMPANIONS = {
    "clocks": ("clock-names",),
    "assigned-clocks": ("assigned-clock-parents", "assigned-clock-rates"),
    "assigned-clock-parents": ("assigned-clocks", "assigned-clock-rates"),
    "resets": ("reset-names",),
    "phys": ("phy-names",),
    "dmas": ("dma-names",),
    "power-domains": ("power-domain-names",),
    "interrupts-extended": ("interrupt-names",),
    "interrupt-parent": ("interrupts", "interrupt-names"),
    "mboxes": ("mbox-names",),
    "io-channels": ("io-channel-names",),
    "pwms": ("pwm-names",),
    "nvmem-cells": ("nvmem-cell-names",),
    "interconnects": ("interconnect-names",),
    "memory-region": ("memory-region-names",),
}
PINCTRL = re.compile(r"^pinctrl-[0-9]+$")


def _is_gpio_list(name):
    return (name in ("gpio", "gpios") or name.endswith("-gpios") or name.endswith("-gpio")) and \
        not name.startswith("nr-") and not name.startswith("#")


def kind(name):
    """("args", cells property, default) for a (phandle, args...) list, ("plain",) for a plain
    phandle list, None for a property that holds no phandles."""
    if name in PHANDLE_ARGS:
        return ("args",) + PHANDLE_ARGS[name]
    if _is_gpio_list(name):
        return ("args", "#gpio-cells", None)
    if name in PHANDLE_LISTS or PINCTRL.match(name) or name.endswith("-supply"):
        return ("plain",)
    return None


def broken(dt, node, name):
    """Why the references in node's property `name` do not hold, or None if they do."""
    k = kind(name)
    value = node.props.get(name)
    if k is None or value is None or len(value) % 4:
        return None
    cells = node.cells(name)
    i = 0
    while i < len(cells):
        ph = cells[i]
        if ph == 0 and k[0] == "args":
            i += 1  # an empty entry (assigned-clock-parents uses them)
            continue
        target = dt.by_phandle.get(ph)
        if target is None:
            return "phandle 0x%x, which the guest's tree does not have" % ph
        if k[0] == "plain":
            i += 1
            continue
        n = target.u32(k[1], k[2])
        if n is None:
            return "%s, which has no %s" % (target.path, k[1])
        i += 1 + n
        if i > len(cells):
            return "%s: the list is shorter than %s says" % (target.path, k[1])
    return None


def companions(node, name):
    """Properties to drop together with `name` (present in the node)."""
    if PINCTRL.match(name):
        names = [p for p in node.props if PINCTRL.match(p)] + ["pinctrl-names"]
    else:
        names = [name] + list(COMPANIONS.get(name, ()))
    return [p for p in names if p in node.props]


def broken_refs(dt):
    """(node, property, why) for every property whose references do not hold, in tree order."""
    out = []
    for node in dt.nodes.values():
        for name in node.props:
            why = broken(dt, node, name)
            if why:
                out.append((node, name, why))
    return out


def stale_paths(dt):
    """(node, property, path) for /aliases, /__symbols__ and /chosen's stdout-path entries naming
    a node the tree does not have."""
    out = []
    for holder in ("/aliases", "/__symbols__", "/chosen"):
        node = dt.nodes.get(holder)
        if node is None:
            continue
        for name in node.props:
            if holder == "/chosen" and name not in ("stdout-path", "linux,stdout-path"):
                continue
            s = node.strings(name)
            if len(s) != 1 or not s[0].startswith("/"):
                continue
            path = s[0].split(":")[0]
            if path not in dt.nodes:
                out.append((node, name, path))
    return out
