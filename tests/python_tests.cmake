# The Python client (clients/python): its protobuf modules, generated into
# the build tree, and its interop tests against real frepd processes.
#
# build/clients/python/gen/frep/{rpc/v1,v1}/*_pb2.py come from
# `protoc --python_out`; the package finds them through FREP_PROTO_PY.

set(py_gen ${PROJECT_BINARY_DIR}/clients/python/gen)
set(py_outputs)
set(py_protos)
foreach(p ${FREP_PROTO_FILES})
  string(REGEX REPLACE "\\.proto$" "_pb2.py" out ${p})
  list(APPEND py_outputs ${py_gen}/${out})
  list(APPEND py_protos ${PROJECT_SOURCE_DIR}/proto/${p})
endforeach()
add_custom_command(
  OUTPUT ${py_outputs}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${py_gen}
  COMMAND ${PROTOC} -I${PROJECT_SOURCE_DIR}/proto --python_out=${py_gen} --pyi_out=${py_gen} ${FREP_PROTO_FILES}
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/proto
  DEPENDS ${py_protos}
  COMMENT "protoc: generating the frep contract's Python modules"
  VERBATIM)
add_custom_target(frep_python_proto ALL DEPENDS ${py_outputs})

# Debian's python3 carries python3-protobuf; a python3 earlier on PATH
# (pyenv, a venv) may not. Prefer the first one that imports it.
set(FREP_PYTHON3 "" CACHE FILEPATH "python3 for the Python client's tests (needs google.protobuf)")
if(NOT FREP_PYTHON3)
  find_program(FREP_PYTHON3_ON_PATH python3)
  foreach(py /usr/bin/python3 ${FREP_PYTHON3_ON_PATH})
    if(EXISTS ${py})
      execute_process(COMMAND ${py} -c "import google.protobuf"
        RESULT_VARIABLE py_rc OUTPUT_QUIET ERROR_QUIET)
      if(py_rc EQUAL 0)
        set(FREP_PYTHON3 ${py} CACHE FILEPATH "python3 for the Python client's tests" FORCE)
        break()
      endif()
    endif()
  endforeach()
endif()

if(NOT FREP_PYTHON3)
  # Registered anyway, as skips that say why: make test fails on them
  # (tests/skip_guard.sh) unless FREP_ALLOW_SKIP has python-protobuf.
  message(WARNING "No python3 with google.protobuf (apt install python3-protobuf): "
    "the Python client tests will be reported as skipped")
  foreach(t_label python_client_test:interop python_install_test:interop python_tls_test:interop
      docs_protocol_facts_test:integration python_readme_test:interop json_codec_test:unit
      http_docs_test:interop http_endpoint_test:interop http_metrics_test:interop
      logs_test:interop)
    string(REPLACE ":" ";" t_label ${t_label})
    list(GET t_label 0 t)
    list(GET t_label 1 label)
    frep_add_skipped_test(${t} python-protobuf
      "no python3 with google.protobuf (apt install python3-protobuf, then re-run cmake)"
      LABEL ${label})
  endforeach()
  return()
endif()

set(py_env
  "FREPD=$<TARGET_FILE:frepd>"
  "FREP_PROTO_PY=${py_gen}"
  "FREP_PROTO_DIR=${PROJECT_SOURCE_DIR}/proto"
  "FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  "PYTHONPATH=${PROJECT_SOURCE_DIR}/clients/python"
  "PYTHONDONTWRITEBYTECODE=1")

# The whole scenario, error statuses, 8 threads on one Client, the README
# example: two frepd on ipc:// in a temp dir.
add_test(NAME python_client_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_client.py)
set_tests_properties(python_client_test PROPERTIES
  LABELS interop TIMEOUT 300 SKIP_RETURN_CODE 77 ENVIRONMENT "${py_env}")

# TLS (tls+tcp://): a CA, mutual TLS, the refusals (no client certificate,
# a rogue CA on either side, a wrong server name), option errors before
# anything is opened, a replication between two TLS partners, close() with
# calls in flight; certificates made with openssl in a temp dir.
add_test(NAME python_tls_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_tls.py)
set_tests_properties(python_tls_test PROPERTIES
  LABELS interop TIMEOUT 300 SKIP_RETURN_CODE 77 ENVIRONMENT "${py_env}")

# pip install into a venv (offline, --no-build-isolation), then the
# installed package alone (no PYTHONPATH, no FREP_PROTO_PY) against frepd.
add_test(NAME python_install_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_install.py)
set_tests_properties(python_install_test PROPERTIES
  LABELS interop TIMEOUT 300 SKIP_RETURN_CODE 77 ENVIRONMENT "${py_env}")

# docs/PROTOCOL.md's stated facts (ServerInfo values, Health answers, the
# metadata limit, the worked error reply) against a live frepd.
add_test(NAME docs_protocol_facts_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/docs/protocol_facts.py)
set_tests_properties(docs_protocol_facts_test PROPERTIES
  LABELS integration TIMEOUT 120 SKIP_RETURN_CODE 77 ENVIRONMENT "${py_env}")

# clients/python/README.md: every sh block, as written, from a copy of the
# tree with build/ linked to this build.
add_test(NAME python_readme_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_readme.py)
set_tests_properties(python_readme_test PROPERTIES
  LABELS interop TIMEOUT 300 SKIP_RETURN_CODE 77
  ENVIRONMENT "FREP_SOURCE_DIR=${PROJECT_SOURCE_DIR};FREP_BINARY_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")

# The descriptor-driven JSON codec (proto/frep_json.c) against protoc's
# json_format on every message of the contract.
# Its oneof cases run on tests/proto/frep_test.proto's JsonOneofProbe (the
# contract has no oneof with two members): the tool links its C code, the
# test imports its Python module from build/tests/gen-py.
set(py_test_gen ${CMAKE_CURRENT_BINARY_DIR}/gen-py)
add_custom_command(
  OUTPUT ${py_test_gen}/frep_test_pb2.py
  COMMAND ${CMAKE_COMMAND} -E make_directory ${py_test_gen}
  COMMAND ${PROTOC} -I${CMAKE_CURRENT_SOURCE_DIR}/proto --python_out=${py_test_gen} frep_test.proto
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/proto/frep_test.proto
  COMMENT "protoc: generating the test proto's Python module"
  VERBATIM)
add_custom_target(frep_test_python_proto ALL DEPENDS ${py_test_gen}/frep_test_pb2.py)
add_executable(json_codec_tool json_codec_tool.c)
target_link_libraries(json_codec_tool PRIVATE frep_json frep_proto frep_test_support)
frep_target_warnings(json_codec_tool)
add_test(NAME json_codec_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_json_codec.py)
set_tests_properties(json_codec_test PROPERTIES LABELS unit TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "JSON_CODEC_TOOL=$<TARGET_FILE:json_codec_tool>;FREP_PROTO_PY=${py_gen};FREP_TEST_PROTO_PY=${py_test_gen};PYTHONDONTWRITEBYTECODE=1")

# The HTTP endpoint (Connect protocol): PROTOCOL.md §15's curl examples run
# as written, and Python's urllib for a replication and each error class.
add_test(NAME http_docs_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_http_docs.py)
set_tests_properties(http_docs_test PROPERTIES LABELS interop TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "${py_env}")
add_test(NAME http_endpoint_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_http.py)
set_tests_properties(http_endpoint_test PROPERTIES LABELS interop TIMEOUT 180 SKIP_RETURN_CODE 77
  ENVIRONMENT "${py_env}")
add_test(NAME http_metrics_test
  COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_http_metrics.py)
set_tests_properties(http_metrics_test PROPERTIES LABELS interop TIMEOUT 120
  SKIP_RETURN_CODE 77 ENVIRONMENT "${py_env}")
# Structured logs (--log-format json/text) and one request id across two
# servers' logs.
add_test(NAME logs_test COMMAND ${FREP_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/python/test_logs.py)
set_tests_properties(logs_test PROPERTIES LABELS interop TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "${py_env}")
