# Reliability and security suites: faults on real frepd processes, load,
# and attacks (docs/SECURITY.md lists what each tries).
frep_add_test(fault_test SOURCES fault_test.c fault_test_common.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 300)
