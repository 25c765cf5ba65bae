frep_add_test(replication_test SOURCES replication_test.c LIBS frep_test_support frep_services
  LABEL integration TIMEOUT 600)
