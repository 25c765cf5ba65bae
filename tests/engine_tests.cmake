# The engine's unit tests (included by tests/CMakeLists.txt).
foreach(t ipv4 sha256 store validation replication concurrency)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/engine_${t}_test.c)
    frep_add_test(engine_${t}_test
      SOURCES engine_${t}_test.c
      LIBS frep_engine
      LABEL unit
      TIMEOUT 120)
  endif()
endforeach()

# The SHA-256 vectors again through the portable code (the default run uses
# the CPU's SHA extensions where it has them).
add_test(NAME engine_sha256_portable_test COMMAND engine_sha256_test)
set_tests_properties(engine_sha256_portable_test PROPERTIES LABELS unit TIMEOUT 60 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREP_SHA256_PORTABLE=1")
