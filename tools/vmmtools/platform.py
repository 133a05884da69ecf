"""Platform facts read from a board's device tree: GIC, timer interrupts, RAM, console UART."""
from . import ToolError

GICV2_COMPATIBLE = ("arm,gic-400", "arm,cortex-a15-gic", "arm,cortex-a9-gic", "arm,cortex-a7-gic",
                    "arm,arm11mp-gic", "arm,cortex-a5-gic", "arm,eb11mp-gic", "arm,pl390")
GICV3_COMPATIBLE = ("arm,gic-v3",)
UART_COMPATIBLE = {
    "arm,pl011": "ttyAMA",
    "amlogic,meson-gx-uart": "ttyAML",
    "amlogic,meson-ao-uart": "ttyAML",
    "fsl,imx8mm-uart": "ttymxc",
    "fsl,imx6q-uart": "ttymxc",
}
SPI_BASE = 32
PPI_BASE = 16


class Platform:
    def __init__(self, dt):
        self.dt = dt
        self._gic(dt)
        self._timer(dt)
        self._memory(dt)
        self._uart(dt)
        self.num_irqs = self._count_irqs(dt)

    def _gic(self, dt):
        gic = None
        for node in dt.nodes.values():
            if "interrupt-controller" not in node.props:
                continue
            compat = node.strings("compatible")
            if any(c in GICV2_COMPATIBLE for c in compat):
                gic, self.gic_version = node, 2
                break
            if any(c in GICV3_COMPATIBLE for c in compat):
                gic, self.gic_version = node, 3
                break
            if any(c.startswith("arm,gic") or c.endswith("-gic") for c in compat):
                raise ToolError("%s: interrupt controller %s has compatible \"%s\", a GIC this VMM "
                                "does not know" % (dt.path, node.path, compat[0]))
        if gic is None:
            raise ToolError("%s: no GICv2 or GICv3 interrupt controller found" % dt.path)
        self.gic = gic
        regs = dt.reg(gic)
        if self.gic_version == 2:
            if len(regs) < 2:
                raise ToolError("%s: GICv2 node %s needs distributor and CPU interface in reg" %
                                (dt.path, gic.path))
            self.gicd = regs[0]
            self.gicc = regs[1]
            # GICH (hypervisor control) and GICV (virtual CPU interface) when the board has them.
            self.gich = regs[2] if len(regs) > 2 else None
            self.gicv = regs[3] if len(regs) > 3 else None
            self.gicr = None
        else:
            if len(regs) < 2:
                raise ToolError("%s: GICv3 node %s needs distributor and redistributors in reg" %
                                (dt.path, gic.path))
            self.gicd = regs[0]
            self.gicr = regs[1]
            self.gicc = self.gich = self.gicv = None
        ic = gic.cells("interrupts")
        self.maintenance_irq = ic[1] + PPI_BASE if ic and len(ic) >= 3 and ic[0] == 1 else None

    def _timer(self, dt):
        timer = dt.find_compatible("arm,armv8-timer", "arm,armv7-timer")
        if timer is None:
            raise ToolError("%s: no arm,armv8-timer node; the guest needs the generic timer" %
                            dt.path)
        cells = timer.cells("interrupts") or []
        ppis = [cells[i + 1] + PPI_BASE for i in range(0, len(cells) - 2, 3) if cells[i] == 1]
        if len(ppis) < 3:
            raise ToolError("%s: timer node %s lists %d PPIs, expected 4 (secure, non-secure, "
                            "virtual, hypervisor)" % (dt.path, timer.path, len(ppis)))
        self.timer = timer
        self.ptimer_irq = ppis[1]
        self.vtimer_irq = ppis[2]

    def _memory(self, dt):
        self.memory = []
        for node in dt.root.children:
            if node.props.get("device_type") == b"memory\0":
                self.memory += dt.reg(node)

    def _uart(self, dt):
        self.uart = None
        self.uart_tty = None
        chosen = dt.nodes.get("/chosen")
        want = None
        if chosen is not None and chosen.strings("stdout-path"):
            want = chosen.strings("stdout-path")[0].split(":")[0]
            aliases = dt.nodes.get("/aliases")
            if aliases is not None and not want.startswith("/") and aliases.strings(want):
                want = aliases.strings(want)[0]
        candidates = [n for n in dt.nodes.values()
                      if any(c in UART_COMPATIBLE for c in n.strings("compatible"))]
        for n in candidates:
            if want and n.path != want:
                continue
            self.uart = n
            break
        if self.uart is None and candidates:
            self.uart = [n for n in candidates if n.enabled()][0] if any(
                n.enabled() for n in candidates) else candidates[0]
        if self.uart is not None:
            compat = [c for c in self.uart.strings("compatible") if c in UART_COMPATIBLE][0]
            # Linux numbers the port by its serialN alias, when there is one.
            index = 0
            aliases = dt.nodes.get("/aliases")
            for name in (aliases.props if aliases is not None else {}):
                if name.startswith("serial") and name[6:].isdigit() and \
                        aliases.strings(name)[:1] == [self.uart.path]:
                    index = int(name[6:])
            self.uart_tty = "%s%d" % (UART_COMPATIBLE[compat], index)

    def _count_irqs(self, dt):
        """Interrupt IDs the vGIC must offer: every SPI any node names, rounded up to 32."""
        top = SPI_BASE
        for node in dt.nodes.values():
            cells = node.cells("interrupts")
            if not cells or not dt.interrupt_parent_is(node, self.gic):
                continue
            icells = self.gic.u32("#interrupt-cells", 3)
            for i in range(0, len(cells) - icells + 1, icells):
                if cells[i] == 0:
                    top = max(top, cells[i + 1] + SPI_BASE + 1)
        return min((top + 31) // 32 * 32, 1024)

    def describe(self):
        lines = ["GICv%d distributor 0x%x" % (self.gic_version, self.gicd[0])]
        if self.gic_version == 2:
            lines.append("CPU interface 0x%x" % self.gicc[0])
            if self.gicv:
                lines.append("vCPU interface 0x%x" % self.gicv[0])
        else:
            lines.append("redistributors 0x%x" % self.gicr[0])
        lines.append("%d interrupts" % self.num_irqs)
        lines.append("virtual timer PPI %d" % self.vtimer_irq)
        if self.uart is not None:
            lines.append("console %s" % self.uart.path)
        return ", ".join(lines)
