# The Kea data plane (included by tests/CMakeLists.txt): rendering checked by
# `kea-dhcp4 -t`, pushing to a real kea-dhcp4, and, as root, two partners
# each driving its own Kea with a DHCP client in a network namespace.
frep_add_test(kea_render_test SOURCES kea_render_test.c LIBS frep_services LABEL unit TIMEOUT 120)
set_tests_properties(kea_render_test PROPERTIES SKIP_RETURN_CODE 77)

add_test(NAME kea_e2e_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kea_e2e_test.sh)
set_tests_properties(kea_e2e_test PROPERTIES LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")

# Valid by construction: every predefined and custom definition, every edge
# value frep accepts, checked with kea-dhcp4 -t (77 without kea-dhcp4).
frep_add_test(kea_option_matrix_test SOURCES kea_option_matrix_test.c LIBS frep_services LABEL unit TIMEOUT 600)
set_tests_properties(kea_option_matrix_test PROPERTIES SKIP_RETURN_CODE 77)

# DNS dynamic-update settings through frepctl and a real frepd, rendered and
# checked by kea-dhcp4 -t (77 without kea-dhcp4).
add_test(NAME kea_dns_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kea_dns_test.sh)
set_tests_properties(kea_dns_test PROPERTIES LABELS integration TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")

# A live pair: a value Kea refuses forced into B's store is left out of B's
# Kea, reported, and a later change on A still reaches B's Kea.
add_test(NAME kea_pair_isolation_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kea_pair_isolation_test.sh)
set_tests_properties(kea_pair_isolation_test PROPERTIES LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")

# Issue 19: the failover relationship as Kea's HA hook, mirrored on both
# servers: each rendering accepted by kea-dhcp4 -t and run by a real Kea
# pair on loopback that must reach its HA state; the warnings; the merge.
frep_add_test(kea_ha_test SOURCES kea_ha_test.c LIBS frep_services LABEL unit TIMEOUT 180)

# Issue 19, a live pair on loopback: --kea-ha-url checked and exchanged at
# failover add, both Keas (HA configured only by frep) reach hot-standby,
# failover set to load balance re-renders both and they reach it.
add_test(NAME kea_ha_pair_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kea_ha_pair_test.sh)
set_tests_properties(kea_ha_pair_test PROPERTIES LABELS integration TIMEOUT 240 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")

# Issue 19, the namespace test's HA half (root): two frepd, two Keas with HA
# configured only by frep, a DHCP client in a test-made namespace: both
# reach hot-standby, a lease from A is known to B (lease4-get), A's Kea
# stopped: B goes partner-down and serves the client.
add_test(NAME kea_ha_e2e_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/kea_ha_e2e_test.sh)
set_tests_properties(kea_ha_e2e_test PROPERTIES LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")
