# cmake -P: one man page from a program's --help (man/CMakeLists.txt).
# In: HELP2MAN, PROGRAM, WHAT (the NAME line), INCLUDE (.h2m sections),
# TREE (ON: add a COMMANDS section from `PROGRAM --help-tree`), OUTPUT.
file(READ "${INCLUDE}" include_text)
if(TREE)
  execute_process(COMMAND "${PROGRAM}" --help-tree
    OUTPUT_VARIABLE tree RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PROGRAM} --help-tree exited ${rc}")
  endif()
  # Plain text to roff, kept as printed (no fill): backslashes and minus
  # signs escaped, no line starting with a control character, each
  # command's "usage:" line in bold after a paragraph break.
  string(REPLACE "\\" "\\e" tree "${tree}")
  string(REPLACE "-" "\\-" tree "${tree}")
  string(REGEX REPLACE "\n([.'])" "\n\\\\&\\1" tree "${tree}")
  string(PREPEND tree "\n")
  string(REGEX REPLACE "\n\n+usage: ([^\n]*)" "\n.fi\n.PP\n.nf\n.B usage: \\1" tree "${tree}")
  string(REGEX REPLACE "^\n\\.fi\n" "" tree "${tree}")
  string(APPEND include_text "\n[COMMANDS]\n${tree}.fi\n")
endif()
file(WRITE "${OUTPUT}.h2m" "${include_text}")
execute_process(
  COMMAND "${HELP2MAN}" --no-info --section=8 "--name=${WHAT}"
    "--include=${OUTPUT}.h2m" "--output=${OUTPUT}" "${PROGRAM}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man ${PROGRAM} exited ${rc}")
endif()
file(REMOVE "${OUTPUT}.h2m")
