# Tests of the contract's C code, the RPC runtime and the client.

# The test-only toy service.
set(test_gen ${CMAKE_CURRENT_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${test_gen})
add_custom_command(
  OUTPUT ${test_gen}/frep_test.pb-c.c ${test_gen}/frep_test.pb-c.h
  COMMAND ${PROTOC_C} -I${CMAKE_CURRENT_SOURCE_DIR}/proto --c_out=${test_gen} frep_test.proto
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/proto/frep_test.proto
  VERBATIM)
add_library(frep_test_support STATIC
  ${test_gen}/frep_test.pb-c.c echo_service.c testutil.c)
target_include_directories(frep_test_support PUBLIC ${test_gen} ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(frep_test_support PUBLIC frep_rpc frep_health frep_client_static)
set_source_files_properties(echo_service.c testutil.c PROPERTIES COMPILE_OPTIONS "${FREP_WARNINGS}")

frep_add_test(envelope_test SOURCES envelope_test.c LIBS frep_proto LABEL unit TIMEOUT 30)
frep_add_test(call_cache_test SOURCES call_cache_test.c LIBS frep_rpc LABEL unit TIMEOUT 30)
frep_add_test(rpc_server_test SOURCES rpc_server_test.c LIBS frep_test_support LABEL unit TIMEOUT 180)
frep_add_test(frepd_test SOURCES frepd_test.c LIBS frep_test_support LABEL integration TIMEOUT 180)

# The installed client, used from outside the tree. An out-of-tree program
# cannot link a sanitized library, so this runs in the plain build only.
if(NOT FREP_SANITIZER)
  add_test(NAME install_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_test.sh)
  set_tests_properties(install_test PROPERTIES LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77
    ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")
endif()

# The runtime knows no DHCP and the engine no RPC (docs/ARCHITECTURE.md).
add_test(NAME layer_check COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/layer_check.sh)
set_tests_properties(layer_check PROPERTIES LABELS unit TIMEOUT 30 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

# No include or call cycle between two modules of engine/ and rpc/ (issue 12):
# the quoted includes of the sources and the symbols of the built objects.
add_test(NAME cycle_check COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/cycle_check.py
  ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(cycle_check PROPERTIES LABELS unit TIMEOUT 180 SKIP_RETURN_CODE 77)

# docs/TESTS.md, SEMANTICS.md and SECURITY.md name tests that exist.
add_test(NAME tests_doc_check COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests_doc_check.sh)
set_tests_properties(tests_doc_check PROPERTIES LABELS unit TIMEOUT 60 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")
# Clients fail fast without a server, and wait for one with wait_for_ready.
frep_add_test(client_failfast_test SOURCES client_failfast_test.c LIBS frep_test_support
  LABEL integration TIMEOUT 120)
# The C client's typed call path, call options and exported symbols.
frep_add_test(client_api_test SOURCES client_api_test.c LIBS frep_test_support ${CMAKE_DL_LIBS}
  LABEL integration TIMEOUT 60 ARGS $<TARGET_FILE:frep-client>)
# Its dropper (an in-process nng server that closes every connection it
# reads from while the client redials) meets nng's own listener leak:
# tests/nng_1518.supp says what that lets through.
set_property(TEST client_api_test APPEND PROPERTY ENVIRONMENT
  "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/nng_1518.supp")
