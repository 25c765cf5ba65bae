/* The rows a new store starts with: RFC 2132's standard option
 * definitions (and a few later RFCs'), predefined as on Windows, and the
 * Windows default classes. Data only: store.c writes them (the dependency
 * points one way, store -> defaults). */
#include <stddef.h>

#include "engine_internal.h"

typedef engine__predefined_option predefined_option;

#define B   ENGINE_OPTION_TYPE_BYTE
#define W   ENGINE_OPTION_TYPE_WORD
#define D   ENGINE_OPTION_TYPE_DWORD
#define IP  ENGINE_OPTION_TYPE_IPV4_ADDRESS
#define S   ENGINE_OPTION_TYPE_STRING
#define BIN ENGINE_OPTION_TYPE_BINARY_DATA

static const predefined_option predefined_options[] = {
    {.id = 1, .name = "Subnet Mask", .type = IP}, {.id = 2, .name = "Time Offset", .type = D},
    {.id = 3, .name = "Router", .type = IP, .multi = true},
    {.id = 4, .name = "Time Server", .type = IP, .multi = true},
    {.id = 5, .name = "Name Servers", .type = IP, .multi = true},
    {.id = 6, .name = "DNS Servers", .type = IP, .multi = true},
    {.id = 7, .name = "Log Servers", .type = IP, .multi = true},
    {.id = 8, .name = "Cookie Servers", .type = IP, .multi = true},
    {.id = 9, .name = "LPR Servers", .type = IP, .multi = true},
    {.id = 12, .name = "Host Name", .type = S}, {.id = 13, .name = "Boot File Size", .type = W},
    {.id = 15, .name = "DNS Domain Name", .type = S}, {.id = 16, .name = "Swap Server", .type = IP},
    {.id = 17, .name = "Root Path", .type = S},
    {.id = 19, .name = "IP Layer Forwarding", .type = B},
    {.id = 23, .name = "Default IP Time-to-live", .type = B},
    {.id = 26, .name = "MTU Option", .type = W},
    {.id = 28, .name = "Broadcast Address", .type = IP},
    {.id = 33, .name = "Static Route Option", .type = IP, .multi = true},
    {.id = 35, .name = "ARP Cache Timeout", .type = D},
    {.id = 37, .name = "Default TCP TTL", .type = B},
    {.id = 40, .name = "NIS Domain Name", .type = S},
    {.id = 41, .name = "NIS Servers", .type = IP, .multi = true},
    {.id = 42, .name = "NTP Servers", .type = IP, .multi = true},
    {.id = 43, .name = "Vendor Specific Info", .type = BIN},
    {.id = 44, .name = "WINS/NBNS Servers", .type = IP, .multi = true},
    {.id = 45, .name = "NetBIOS over TCP/IP NBDD", .type = IP, .multi = true},
    {.id = 46, .name = "WINS/NBT Node Type", .type = B},
    {.id = 47, .name = "NetBIOS Scope ID", .type = S}, {.id = 51, .name = "Lease", .type = D},
    {.id = 58, .name = "Renewal (T1) Time Value", .type = D},
    {.id = 59, .name = "Rebinding (T2) Time Value", .type = D},
    {.id = 60, .name = "Vendor Class Identifier", .type = S},
    {.id = 64, .name = "NIS+ Domain Name", .type = S},
    {.id = 65, .name = "NIS+ Servers", .type = IP, .multi = true},
    {.id = 66, .name = "Boot Server Host Name", .type = S},
    {.id = 67, .name = "Bootfile Name", .type = S},
    {.id = 68, .name = "Mobile IP Home Agents", .type = IP, .multi = true},
    {.id = 69, .name = "Simple Mail Transport Protocol (SMTP) Servers", .type = IP, .multi = true},
    {.id = 70, .name = "Post Office Protocol (POP3) Servers", .type = IP, .multi = true},
    {.id = 81, .name = "Client FQDN", .type = BIN},
    {.id = 119, .name = "DNS Domain Search List", .type = BIN},
    {.id = 121, .name = "Classless Static Routes", .type = BIN},
    {.id = 150, .name = "TFTP Server Address", .type = IP, .multi = true},
    {.id = 252, .name = "WPAD", .type = S}, {.id = 0}, /* terminator */
};

#undef B
#undef W
#undef D
#undef IP
#undef S
#undef BIN

typedef engine__default_class default_class;

static const default_class default_classes[] = {
    {.type           = ENGINE_CLASS_TYPE_USER,
	.name        = "Default BOOTP Class",
	.data        = "BOOTP.Microsoft",
	.description = "User class for BOOTP clients"},
    {.type           = ENGINE_CLASS_TYPE_USER,
	.name        = "Default Routing and Remote Access Class",
	.data        = "RRAS.Microsoft",
	.description = "User class for remote access clients"},
    {.type           = ENGINE_CLASS_TYPE_VENDOR,
	.name        = "Microsoft Options",
	.data        = "MSFT",
	.description = "Microsoft vendor-specific options applicable to "
		       "Windows 98 and later"},
    {.type           = ENGINE_CLASS_TYPE_VENDOR,
	.name        = "Microsoft Windows 2000 Options",
	.data        = "MSFT 5.0",
	.description = "Microsoft vendor-specific options for Windows "
		       "2000 and later"},
    {.type = ENGINE_CLASS_TYPE_UNSPECIFIED}, /* terminator */
};

const engine__predefined_option *
engine__predefined_options(void)
{
	return predefined_options;
}

const engine__default_class *
engine__default_classes(void)
{
	return default_classes;
}
