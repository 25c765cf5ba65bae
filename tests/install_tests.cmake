# Installation: the man pages against --help (tests/man_test.sh). The
# install test itself is in rpc_tests.cmake; the Debian packages are tested
# by `make deb-test` (tests/deb_test.sh), not by ctest.
if(FREP_MAN_DIR)
  add_test(NAME man_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/man_test.sh)
  set_tests_properties(man_test PROPERTIES LABELS unit TIMEOUT 60 SKIP_RETURN_CODE 77
    ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_MAN_DIR=${FREP_MAN_DIR}")
else()
  # man/CMakeLists.txt found no help2man: no pages to check.
  frep_add_skipped_test(man_test help2man
    "help2man not found, no man pages built (apt install help2man, then re-run cmake)" LABEL unit)
endif()

# systemd readiness: READY=1 / STOPPING=1 on $NOTIFY_SOCKET
# (rpc/runtime/service_notify.h).
find_program(FREP_NOTIFY_PYTHON3 python3)
if(FREP_NOTIFY_PYTHON3)
  add_test(NAME notify_test COMMAND ${FREP_NOTIFY_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/notify_test.py)
  set_tests_properties(notify_test PROPERTIES LABELS integration TIMEOUT 90 SKIP_RETURN_CODE 77
    ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;PYTHONDONTWRITEBYTECODE=1")
else()
  frep_add_skipped_test(notify_test python "no python3 on PATH (apt install python3, then re-run cmake)"
    LABEL integration)
endif()

# README.md's package lists are the Makefile's.
add_test(NAME readme_packages_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/readme_packages_test.sh)
set_tests_properties(readme_packages_test PROPERTIES LABELS unit TIMEOUT 30 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
