# Installation: the man pages against --help (tests/man_test.sh). The
# install test itself is in rpc_tests.cmake; the Debian packages are tested
# by `make deb-test` (tests/deb_test.sh), not by ctest.
if(FREP_MAN_DIR)
  add_test(NAME man_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/man_test.sh)
  set_tests_properties(man_test PROPERTIES LABELS unit TIMEOUT 60
    ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_MAN_DIR=${FREP_MAN_DIR}")
endif()
