# CMake's project-include hook for the fuzz build: run.sh configures with
#   -DCMAKE_PROJECT_INCLUDE=<repo>/tests/fuzz/fuzz.cmake -DFREP_FUZZ=ON
# and this file, included right after project(frep), arranges for
# tests/fuzz/CMakeLists.txt to be included once the top level has defined
# every library (a deferred call may include, not add_subdirectory).
# Without FREP_FUZZ it does nothing.
if(FREP_FUZZ)
  set(FREP_FUZZ_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
    CALL include ${FREP_FUZZ_SOURCE_DIR}/CMakeLists.txt)
endif()
