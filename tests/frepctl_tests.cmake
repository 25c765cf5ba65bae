# frepctl against a real frepd (included by tests/CMakeLists.txt): the
# whole DhcpServer admin API configured through the command line.
add_test(NAME frepctl_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/frepctl_test.sh)
set_tests_properties(frepctl_test PROPERTIES LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR}")

# The command examples in docs/FREPCTL.md run as written against real frepd.
add_test(NAME docs_examples_test COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/run_doc_blocks.sh)
set_tests_properties(docs_examples_test PROPERTIES LABELS integration TIMEOUT 120
  SKIP_RETURN_CODE 77 ENVIRONMENT "FREPD=$<TARGET_FILE:frepd>;FREPCTL=$<TARGET_FILE:frepctl>;FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
