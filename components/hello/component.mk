# The example serial client PD. The build adds src/seL4/pd_seam.c and the generated configuration
# (a C file defining `const struct hello_config hello_config`, components/hello/config.h), and
# compiles with -Icomponents -Idrivers besides -Iinclude.
hello_SRCS := components/hello/main.c components/hello/hello.c components/lib/buf_client.c components/lib/serial_client.c
