# The virtual switch PD. The build adds src/seL4/pd_seam.c and the generated configuration (a C
# file defining `const struct vswitch_config vswitch_config`, components/vswitch/config.h), and
# compiles with -Icomponents -Idrivers besides -Iinclude.
vswitch_SRCS := components/vswitch/main.c components/vswitch/vswitch.c \
        components/vswitch/vswitch_port.c components/vswitch/vswitch_report.c components/lib/limit.c
