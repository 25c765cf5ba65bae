frep_add_test(replication_test SOURCES replication_test.c LIBS frep_test_support frep_services
  LABEL integration TIMEOUT 600)
# A pair that never loses or reverts an update (issue 13): two real frepd.
frep_add_test(pair_safety_test SOURCES pair_safety_test.c fault_test_common.c
  LIBS frep_test_support frep_services LABEL integration TIMEOUT 600)
