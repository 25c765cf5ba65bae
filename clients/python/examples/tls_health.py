"""Call a frepd over TLS with a client certificate (mutual TLS).

    python3 tls_health.py URL DIR    (URL tls+tcp://HOST:PORT; DIR holds
                                      ca.crt, client.crt and client.key)
"""
import os
import sys

import frep

url, certs = sys.argv[1], sys.argv[2]

with frep.Client(url, timeout=10, wait_for_ready=True,
                 tls_ca_file=os.path.join(certs, "ca.crt"),        # verifies the server
                 tls_cert_file=os.path.join(certs, "client.crt"),  # for frepd --tls-ca
                 tls_key_file=os.path.join(certs, "client.key")) as c:
    status = c.health.check().status
    print("health:", frep.pb.HealthCheckResponse.ServingStatus.Name(status))
    info = c.introspection.get_server_info()
    print("server: %s, max message %d bytes" % (info.version, info.max_message_bytes))
