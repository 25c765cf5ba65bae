frep_add_test(replication_test SOURCES replication_test.c partner_proxy.c LIBS frep_test_support frep_services
  LABEL integration TIMEOUT 600)
# The promises of docs/SEMANTICS.md about relationships, on both sides
# (docs/TESTS.md maps each claim to its test).
frep_add_test(failover_promises_test SOURCES failover_promises_test.c fault_test_common.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 600)
if(FREP_SANITIZER)
  set_property(TEST failover_promises_test APPEND PROPERTY ENVIRONMENT "FREP_SANITIZER_BUILD=1")
endif()

# A pair that never loses or reverts an update (issue 13): two real frepd.
frep_add_test(pair_safety_test SOURCES pair_safety_test.c fault_test_common.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 600)

# Keeping the pair in step by itself (issue 15): auto-sync, conflicts,
# the drift status and the server-level settings, on two real frepd.
frep_add_test(auto_sync_test SOURCES auto_sync_test.c fault_test_common.c partner_proxy.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 600)
