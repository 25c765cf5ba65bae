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
