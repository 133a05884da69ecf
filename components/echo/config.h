/*
 * The echo service's configuration: its address on the switch and what it answers. The build
 * tool writes it as a C file defining
 *
 *     const struct echo_config echo_config = { ... };
 *
 * from the PD's <net_client switch="..." mac="..." ip="..." udp_port="..."/> in the system file
 * (the MAC and the IPv4 address default to values derived from the PD's name).
 */
#ifndef ECHO_CONFIG_H
#define ECHO_CONFIG_H

#include <proto/conn.h>
#include <stdint.h>

struct echo_config {
    struct conn_config net; /* its port of the switch: it is the client */
    uint8_t mac[6];
    uint8_t ip[4];     /* IPv4 address, network byte order */
    uint16_t udp_port; /* the UDP port it echoes */
};

extern const struct echo_config echo_config;

#endif
