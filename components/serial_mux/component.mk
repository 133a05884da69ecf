# The serial multiplexer PD. The build adds src/seL4/pd_seam.c and the generated configuration
# (a C file defining `const struct serial_mux_config serial_mux_config`, components/serial_mux/
# config.h), and compiles with -Icomponents -Idrivers besides -Iinclude.
serial_mux_SRCS := components/serial_mux/main.c components/serial_mux/mux.c \
        components/serial_mux/mux_client.c components/serial_mux/mux_input.c \
        components/serial_mux/mux_out.c components/serial_mux/uart.c drivers/pl011/pl011.c
