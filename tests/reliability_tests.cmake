# Reliability and security suites: faults on real frepd processes, load,
# and attacks (docs/SECURITY.md lists what each tries).
frep_add_test(fault_test SOURCES fault_test.c fault_test_common.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 300)
frep_add_test(load_test SOURCES load_test.c fault_test_common.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 240)
if(FREP_SANITIZER)
  # ASan/UBSan make each call several times slower: fewer calls per thread,
  # and no RSS bound (shadow memory and the quarantine dominate RSS).
  set_property(TEST load_test APPEND PROPERTY ENVIRONMENT "FREP_LOAD_CALLS=300;FREP_LOAD_SANITIZER=1")
endif()
frep_add_test(security_test SOURCES security_test.c fault_test_common.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 300)
if(FREP_SANITIZER)
  # The largest ReplicateByScopeId is checked with a quarter of the ids.
  set_property(TEST security_test APPEND PROPERTY ENVIRONMENT "FREP_SECURITY_SANITIZER=1")
endif()
# Hardening, second round (issue 14): each attack that worked before it.
frep_add_test(hardening_test SOURCES hardening_test.c fault_test_common.c partner_proxy.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 300)
if(FREP_SANITIZER)
  # Memory figures are printed, not bounded, where ASan's redzones count.
  set_property(TEST hardening_test APPEND PROPERTY ENVIRONMENT "FREP_HARDENING_SANITIZER=1")
endif()
