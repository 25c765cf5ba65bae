# Run at install time (install(CODE) in clients/CMakeLists.txt): fills
# FREP_PC_TEMPLATE's directories from the prefix being installed to
# (CMAKE_INSTALL_PREFIX here is `cmake --install --prefix`'s, else the
# configured one) into FREP_PC_OUTPUT, which install(FILES) then copies.
# In: FREP_PC_TEMPLATE, FREP_PC_OUTPUT, FREP_INSTALL_LIBDIR,
# FREP_INSTALL_INCLUDEDIR (GNUInstallDirs' values, relative or absolute),
# FREP_INSTALL_RPATH (the option: OFF never adds -Wl,-rpath).
set(FREP_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${FREP_INSTALL_${d}}")
    set(FREP_PC_${d} "${FREP_INSTALL_${d}}")
    set(full_${d} "${FREP_INSTALL_${d}}")
  else()
    set(FREP_PC_${d} "\${prefix}/${FREP_INSTALL_${d}}")
    set(full_${d} "${CMAKE_INSTALL_PREFIX}/${FREP_INSTALL_${d}}")
  endif()
endforeach()
# The dynamic linker searches /lib, /usr/lib and their multiarch and
# 32/64 variants by itself; anywhere else, the program carries the path.
if(NOT FREP_INSTALL_RPATH OR full_LIBDIR MATCHES "^(/usr)?/lib(32|64|/[^/]+-linux-[^/]+)?/?$")
  set(FREP_PC_RPATH "")
else()
  set(FREP_PC_RPATH " -Wl,-rpath,\${libdir}")
endif()
configure_file("${FREP_PC_TEMPLATE}" "${FREP_PC_OUTPUT}" @ONLY)
