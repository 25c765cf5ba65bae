# The frep.v1.DhcpServer service through real frepd processes.
frep_add_test(dhcp_service_test SOURCES dhcp_service_test.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 300)
