# The echo service PD: a port of the virtual switch with an IPv4 stack of its own. The build adds
# src/seL4/pd_seam.c and the generated configuration (a C file defining `const struct echo_config
# echo_config`, components/echo/config.h).
echo_SRCS := components/echo/main.c components/echo/echo.c components/echo/echo_stack.c \
        components/lib/buf_client.c components/lib/net_client.c
